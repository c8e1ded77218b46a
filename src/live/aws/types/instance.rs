//! `AWS::EC2::Instance`: DescribeInstances, every reservation's instances except terminated
//! ones, with their status checks and scheduled events from DescribeInstanceStatus (under
//! `StatusChecks`, for health); Terraform `aws_instance`. Rules see an instance's subnet beside
//! it.

use std::collections::HashMap;

use futures::future::BoxFuture;
use serde_json::{Map, Value, json};

use super::{AwsError, AwsType, Estate, Item, Shape, Snapshot, pages, reads};
use crate::live::aws::client::ReadOnlyEc2;
use crate::live::aws::json::{J, strings};
use crate::model::Object;

reads! {
    describe_instances: DescribeInstancesFluentBuilder => "DescribeInstances";
    describe_instance_status: DescribeInstanceStatusFluentBuilder => "DescribeInstanceStatus";
}

/// Every instance's status checks and scheduled events, by id, as `StatusChecks` holds them;
/// when they cannot be read, why (health then says so rather than guess).
async fn status_checks(ec2: &ReadOnlyEc2) -> Result<HashMap<String, Value>, String> {
    let paginator = ec2
        .describe_instance_status()
        .include_all_instances(true)
        .into_paginator();
    let statuses = pages(paginator.page_size(ec2.page_size(1000)).items().send())
        .await
        .map_err(|e| e.to_string())?;
    let summary = |s: Option<&aws_sdk_ec2::types::InstanceStatusSummary>| {
        s.map_or(Value::Null, |s| {
            J::new()
                .s("Status", s.status().map(|v| v.as_str()))
                .list("Details", s.details(), |d| {
                    J::new()
                        .s("Name", d.name().map(|v| v.as_str()))
                        .s("Status", d.status().map(|v| v.as_str()))
                        .build()
                })
                .build()
        })
    };
    Ok(statuses
        .iter()
        .filter_map(|s| {
            let id = s.instance_id()?;
            let value = J::new()
                .v("InstanceStatus", summary(s.instance_status()))
                .v("SystemStatus", summary(s.system_status()))
                .v(
                    "AttachedEbsStatus",
                    s.attached_ebs_status()
                        .and_then(|e| e.status())
                        .map_or(Value::Null, |v| json!({"Status": v.as_str()})),
                )
                .list("Events", s.events(), |e| {
                    J::new()
                        .s("Code", e.code().map(|v| v.as_str()))
                        .s("Description", e.description())
                        .s(
                            "NotBefore",
                            e.not_before()
                                .and_then(|t| {
                                    t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()
                                })
                                .as_deref(),
                        )
                        .build()
                })
                .build();
            Some((id.to_string(), value))
        })
        .collect())
}

pub struct Instances;

impl AwsType for Instances {
    fn name(&self) -> &'static str {
        "AWS::EC2::Instance"
    }

    fn operations(&self) -> &'static [&'static str] {
        OPERATIONS
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            key: "Reservations",
            id: &["InstanceId"],
            file: "instances.json",
            shape: Shape::Reservations,
        }
    }

    fn collect<'a>(&'a self, ec2: &'a ReadOnlyEc2) -> BoxFuture<'a, Result<Vec<Item>, AwsError>> {
        Box::pin(async move {
            let paginator = ec2.describe_instances().into_paginator();
            let reservations =
                pages(paginator.page_size(ec2.page_size(1000)).items().send()).await?;
            // One more read, only where there is something to check.
            let checks = if reservations.iter().any(|r| !r.instances().is_empty()) {
                status_checks(ec2).await
            } else {
                Ok(HashMap::new())
            };
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
                            "StateReason",
                            i.state_reason().map_or(Value::Null, |r| {
                                J::new()
                                    .s("Code", r.code())
                                    .s("Message", r.message())
                                    .build()
                            }),
                        )
                        .v(
                            "StatusChecks",
                            match &checks {
                                Ok(by_id) => by_id.get(id).cloned().unwrap_or(Value::Null),
                                Err(why) => json!({"Unreadable": why}),
                            },
                        )
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

    fn terraform_types(&self) -> &'static [&'static str] {
        &["aws_instance"]
    }

    fn terraform_properties(&self, id: &str, a: &Map<String, Value>) -> Value {
        let groups = strings(a, "vpc_security_group_ids")
            .into_iter()
            .map(|g| json!({"GroupId": g}))
            .collect();
        let monitoring = match a.get("monitoring").and_then(Value::as_bool) {
            Some(true) => json!({"State": "enabled"}),
            Some(false) => json!({"State": "disabled"}),
            None => Value::Null,
        };
        let metadata = a
            .get("metadata_options")
            .and_then(Value::as_array)
            .and_then(|m| m.first())
            .and_then(Value::as_object)
            .map(|m| J::new().text("HttpTokens", m, "http_tokens").build())
            .unwrap_or(Value::Null);
        J::new()
            .v("InstanceId", Value::String(id.to_string()))
            .text("InstanceType", a, "instance_type")
            .text("ImageId", a, "ami")
            .text("KeyName", a, "key_name")
            .text("SubnetId", a, "subnet_id")
            .v("SecurityGroups", Value::Array(groups))
            .raw("EbsOptimized", a, "ebs_optimized")
            .raw("SourceDestCheck", a, "source_dest_check")
            .v("Monitoring", monitoring)
            .v("MetadataOptions", metadata)
            .tf_tags(a)
            .build()
    }

    fn related(&self, instance: &Object, estate: &Estate<'_>) -> Option<Value> {
        let region = instance.namespace.as_deref().unwrap_or_default();
        let value = instance.value();
        let subnet = value.get("SubnetId").and_then(Value::as_str)?;
        let subnet = estate.get("AWS::EC2::Subnet", region, subnet)?;
        Some(json!({ "subnet": subnet }))
    }
}
