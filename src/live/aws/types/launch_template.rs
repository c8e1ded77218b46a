//! `AWS::EC2::LaunchTemplate`: DescribeLaunchTemplates, and the default version's data from
//! DescribeLaunchTemplateVersions (`$Default` of every template in one call, where the API
//! allows it; one call per template otherwise); Terraform `aws_launch_template`. User data is
//! never read into gitdrift: it often carries secrets, and it is not compared.

use std::collections::HashMap;

use aws_sdk_ec2::types::{LaunchTemplateVersion, ResponseLaunchTemplateData};
use futures::future::BoxFuture;
use serde_json::{Map, Value};

use super::{AwsError, AwsType, Item, Shape, Snapshot, error, pages, reads};
use crate::live::aws::client::ReadOnlyEc2;
use crate::live::aws::json::{J, strings};

reads! {
    describe_launch_templates: DescribeLaunchTemplatesFluentBuilder => "DescribeLaunchTemplates";
    describe_launch_template_versions: DescribeLaunchTemplateVersionsFluentBuilder => "DescribeLaunchTemplateVersions";
}

pub struct LaunchTemplates;

fn data(d: &ResponseLaunchTemplateData) -> Value {
    J::new()
        .s("ImageId", d.image_id())
        .s("InstanceType", d.instance_type().map(|t| t.as_str()))
        .s("KeyName", d.key_name())
        .list("SecurityGroupIds", d.security_group_ids(), |g| {
            Value::String(g.clone())
        })
        .v(
            "IamInstanceProfile",
            d.iam_instance_profile()
                .map(|p| J::new().s("Arn", p.arn()).s("Name", p.name()).build())
                .unwrap_or(Value::Null),
        )
        .v(
            "MetadataOptions",
            d.metadata_options()
                .map(|m| {
                    J::new()
                        .s("HttpTokens", m.http_tokens().map(|t| t.as_str()))
                        .s("HttpEndpoint", m.http_endpoint().map(|t| t.as_str()))
                        .n("HttpPutResponseHopLimit", m.http_put_response_hop_limit())
                        .build()
                })
                .unwrap_or(Value::Null),
        )
        .v(
            "Monitoring",
            d.monitoring()
                .map(|m| J::new().b("Enabled", m.enabled()).build())
                .unwrap_or(Value::Null),
        )
        .b("EbsOptimized", d.ebs_optimized())
        .list("BlockDeviceMappings", d.block_device_mappings(), |b| {
            J::new()
                .s("DeviceName", b.device_name())
                .v(
                    "Ebs",
                    b.ebs()
                        .map(|e| {
                            J::new()
                                .n("VolumeSize", e.volume_size())
                                .s("VolumeType", e.volume_type().map(|t| t.as_str()))
                                .b("Encrypted", e.encrypted())
                                .b("DeleteOnTermination", e.delete_on_termination())
                                .build()
                        })
                        .unwrap_or(Value::Null),
                )
                .build()
        })
        .build()
}

async fn default_versions(
    ec2: &ReadOnlyEc2,
    ids: &[String],
) -> Result<Vec<LaunchTemplateVersion>, AwsError> {
    let paginator = ec2
        .describe_launch_template_versions()
        .versions("$Default")
        .into_paginator();
    match pages(paginator.page_size(ec2.page_size(200)).items().send()).await {
        Ok(versions) => Ok(versions),
        Err(_) => {
            let mut versions = Vec::new();
            for id in ids {
                let found = ec2
                    .describe_launch_template_versions()
                    .launch_template_id(id)
                    .versions("$Default")
                    .send()
                    .await
                    .map_err(|e| error(&e))?;
                versions.extend(found.launch_template_versions().iter().cloned());
            }
            Ok(versions)
        }
    }
}

impl AwsType for LaunchTemplates {
    fn name(&self) -> &'static str {
        "AWS::EC2::LaunchTemplate"
    }

    fn operations(&self) -> &'static [&'static str] {
        OPERATIONS
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            key: "LaunchTemplates",
            id: &["LaunchTemplateId"],
            file: "launch-templates.json",
            shape: Shape::List,
        }
    }

    fn collect<'a>(&'a self, ec2: &'a ReadOnlyEc2) -> BoxFuture<'a, Result<Vec<Item>, AwsError>> {
        Box::pin(async move {
            let paginator = ec2.describe_launch_templates().into_paginator();
            let templates = pages(paginator.page_size(ec2.page_size(200)).items().send()).await?;
            if templates.is_empty() {
                return Ok(Vec::new());
            }
            let ids: Vec<String> = templates
                .iter()
                .filter_map(|t| t.launch_template_id().map(str::to_string))
                .collect();
            let versions = default_versions(ec2, &ids).await?;
            let by_id: HashMap<&str, &LaunchTemplateVersion> = versions
                .iter()
                .filter_map(|v| Some((v.launch_template_id()?, v)))
                .collect();
            Ok(Item::each(&templates, |t| {
                let id = t.launch_template_id()?;
                let value = J::new()
                    .s("LaunchTemplateId", Some(id))
                    .s("LaunchTemplateName", t.launch_template_name())
                    .n("DefaultVersionNumber", t.default_version_number())
                    .n("LatestVersionNumber", t.latest_version_number())
                    .v(
                        "LaunchTemplateData",
                        by_id
                            .get(id)
                            .and_then(|v| v.launch_template_data())
                            .map(data)
                            .unwrap_or(Value::Null),
                    )
                    .tags(t.tags())
                    .build();
                Some((id, value))
            }))
        })
    }

    fn terraform_types(&self) -> &'static [&'static str] {
        &["aws_launch_template"]
    }

    fn terraform_properties(&self, id: &str, a: &Map<String, Value>) -> Value {
        let groups = strings(a, "vpc_security_group_ids")
            .into_iter()
            .map(Value::String)
            .collect();
        J::new()
            .v("LaunchTemplateId", Value::String(id.to_string()))
            .text("LaunchTemplateName", a, "name")
            .raw("DefaultVersionNumber", a, "default_version")
            .v(
                "LaunchTemplateData",
                J::new()
                    .text("ImageId", a, "image_id")
                    .text("InstanceType", a, "instance_type")
                    .text("KeyName", a, "key_name")
                    .v("SecurityGroupIds", Value::Array(groups))
                    .build(),
            )
            .tf_tags(a)
            .build()
    }
}
