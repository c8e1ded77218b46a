//! `AWS::EC2::Instance`: DescribeInstances, every reservation's instances except terminated ones.

use futures::future::BoxFuture;
use serde_json::Value;

use super::{Collector, Item, error};
use crate::live::aws::client::ReadOnlyEc2;
use crate::live::aws::json::J;

pub struct Instances;

impl Collector for Instances {
    fn resource_type(&self) -> &'static str {
        "AWS::EC2::Instance"
    }

    fn collect<'a>(&'a self, ec2: &'a ReadOnlyEc2) -> BoxFuture<'a, Result<Vec<Item>, String>> {
        Box::pin(async move {
            let reservations: Vec<_> = ec2
                .describe_instances()
                .into_paginator()
                .page_size(ec2.page_size(1000))
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| error(&e))?;
            let mut out = Vec::new();
            for reservation in &reservations {
                for i in reservation.instances() {
                    let state = i.state().and_then(|s| s.name()).map(|n| n.as_str());
                    if state == Some("terminated") {
                        continue;
                    }
                    let Some(id) = i.instance_id() else { continue };
                    let value = J::new()
                        .s("InstanceId", Some(id))
                        .s("InstanceType", i.instance_type().map(|t| t.as_str()))
                        .s("ImageId", i.image_id())
                        .s("KeyName", i.key_name())
                        .s("SubnetId", i.subnet_id())
                        .s("VpcId", i.vpc_id())
                        .s("PrivateIpAddress", i.private_ip_address())
                        .s("PublicIpAddress", i.public_ip_address())
                        .v("State", J::new().s("Name", state).build())
                        .v(
                            "Placement",
                            J::new()
                                .s(
                                    "AvailabilityZone",
                                    i.placement().and_then(|p| p.availability_zone()),
                                )
                                .s(
                                    "Tenancy",
                                    i.placement().and_then(|p| p.tenancy()).map(|t| t.as_str()),
                                )
                                .build(),
                        )
                        .list("SecurityGroups", i.security_groups(), |g| {
                            J::new()
                                .s("GroupId", g.group_id())
                                .s("GroupName", g.group_name())
                                .build()
                        })
                        .v(
                            "IamInstanceProfile",
                            J::new()
                                .s("Arn", i.iam_instance_profile().and_then(|p| p.arn()))
                                .build(),
                        )
                        .v(
                            "Monitoring",
                            J::new()
                                .s(
                                    "State",
                                    i.monitoring().and_then(|m| m.state()).map(|s| s.as_str()),
                                )
                                .build(),
                        )
                        .b("EbsOptimized", i.ebs_optimized())
                        .b("SourceDestCheck", i.source_dest_check())
                        .v(
                            "MetadataOptions",
                            i.metadata_options()
                                .map(|m| {
                                    J::new()
                                        .s("HttpTokens", m.http_tokens().map(|t| t.as_str()))
                                        .s("HttpEndpoint", m.http_endpoint().map(|t| t.as_str()))
                                        .n(
                                            "HttpPutResponseHopLimit",
                                            m.http_put_response_hop_limit(),
                                        )
                                        .build()
                                })
                                .unwrap_or(Value::Null),
                        )
                        .s("RootDeviceName", i.root_device_name())
                        .list("BlockDeviceMappings", i.block_device_mappings(), |b| {
                            J::new()
                                .s("DeviceName", b.device_name())
                                .v(
                                    "Ebs",
                                    b.ebs()
                                        .map(|e| {
                                            J::new()
                                                .s("VolumeId", e.volume_id())
                                                .b("DeleteOnTermination", e.delete_on_termination())
                                                .build()
                                        })
                                        .unwrap_or(Value::Null),
                                )
                                .build()
                        })
                        .tags(i.tags())
                        .build();
                    out.push(Item {
                        id: id.to_string(),
                        value,
                    });
                }
            }
            Ok(out)
        })
    }
}
