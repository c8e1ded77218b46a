//! `AWS::EC2::Volume`: DescribeVolumes; Terraform `aws_ebs_volume`.

use futures::future::BoxFuture;
use serde_json::{Map, Value};

use super::{AwsError, AwsType, Item, Shape, Snapshot, pages, reads};
use crate::live::aws::client::ReadOnlyEc2;
use crate::live::aws::json::J;

reads! {
    describe_volumes: DescribeVolumesFluentBuilder => "DescribeVolumes";
}

pub struct Volumes;

impl AwsType for Volumes {
    fn name(&self) -> &'static str {
        "AWS::EC2::Volume"
    }

    fn operations(&self) -> &'static [&'static str] {
        OPERATIONS
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            key: "Volumes",
            id: &["VolumeId"],
            file: "volumes.json",
            shape: Shape::List,
        }
    }

    fn collect<'a>(&'a self, ec2: &'a ReadOnlyEc2) -> BoxFuture<'a, Result<Vec<Item>, AwsError>> {
        Box::pin(async move {
            let paginator = ec2.describe_volumes().into_paginator();
            let volumes = pages(paginator.page_size(ec2.page_size(500)).items().send()).await?;
            Ok(Item::each(&volumes, |v| {
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
                Some((id, value))
            }))
        })
    }

    fn terraform_types(&self) -> &'static [&'static str] {
        &["aws_ebs_volume"]
    }

    fn terraform_properties(&self, id: &str, a: &Map<String, Value>) -> Value {
        J::new()
            .v("VolumeId", Value::String(id.to_string()))
            .raw("Size", a, "size")
            .text("VolumeType", a, "type")
            .raw("Iops", a, "iops")
            .raw("Throughput", a, "throughput")
            .raw("Encrypted", a, "encrypted")
            .text("KmsKeyId", a, "kms_key_id")
            .text("AvailabilityZone", a, "availability_zone")
            .text("SnapshotId", a, "snapshot_id")
            .tf_tags(a)
            .build()
    }
}
