//! `AWS::EC2::Volume`: DescribeVolumes.

use futures::future::BoxFuture;

use super::{Collector, Item, error};
use crate::live::aws::client::ReadOnlyEc2;
use crate::live::aws::json::J;

pub struct Volumes;

impl Collector for Volumes {
    fn resource_type(&self) -> &'static str {
        "AWS::EC2::Volume"
    }

    fn collect<'a>(&'a self, ec2: &'a ReadOnlyEc2) -> BoxFuture<'a, Result<Vec<Item>, String>> {
        Box::pin(async move {
            let volumes: Vec<_> = ec2
                .describe_volumes()
                .into_paginator()
                .page_size(ec2.page_size(500))
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| error(&e))?;
            Ok(volumes
                .iter()
                .filter_map(|v| {
                    let id = v.volume_id()?;
                    let value = J::new()
                        .s("VolumeId", Some(id))
                        .n("Size", v.size())
                        .s("VolumeType", v.volume_type().map(|t| t.as_str()))
                        .n("Iops", v.iops())
                        .n("Throughput", v.throughput())
                        .b("Encrypted", v.encrypted())
                        .s("KmsKeyId", v.kms_key_id())
                        .s("AvailabilityZone", v.availability_zone())
                        .s("SnapshotId", v.snapshot_id().filter(|s| !s.is_empty()))
                        .b("MultiAttachEnabled", v.multi_attach_enabled())
                        .s("State", v.state().map(|s| s.as_str()))
                        .list("Attachments", v.attachments(), |a| {
                            J::new()
                                .s("InstanceId", a.instance_id())
                                .s("Device", a.device())
                                .b("DeleteOnTermination", a.delete_on_termination())
                                .build()
                        })
                        .tags(v.tags())
                        .build();
                    Some(Item {
                        id: id.to_string(),
                        value,
                    })
                })
                .collect())
        })
    }
}
