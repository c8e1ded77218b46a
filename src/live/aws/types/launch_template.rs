//! `AWS::EC2::LaunchTemplate`: DescribeLaunchTemplates, and the default version's data from
//! DescribeLaunchTemplateVersions (`$Default` of every template in one call, where the API
//! allows it; one call per template otherwise). User data is never read into gitdrift: it often
//! carries secrets, and it is not compared.

use std::collections::HashMap;

use aws_sdk_ec2::types::{LaunchTemplateVersion, ResponseLaunchTemplateData};
use futures::future::BoxFuture;
use serde_json::Value;

use super::{Collector, Item, error};
use crate::live::aws::client::ReadOnlyEc2;
use crate::live::aws::json::J;

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
) -> Result<Vec<LaunchTemplateVersion>, String> {
    let all = ec2
        .describe_launch_template_versions()
        .versions("$Default")
        .into_paginator()
        .page_size(ec2.page_size(200))
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await;
    match all {
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

impl Collector for LaunchTemplates {
    fn resource_type(&self) -> &'static str {
        "AWS::EC2::LaunchTemplate"
    }

    fn collect<'a>(&'a self, ec2: &'a ReadOnlyEc2) -> BoxFuture<'a, Result<Vec<Item>, String>> {
        Box::pin(async move {
            let templates: Vec<_> = ec2
                .describe_launch_templates()
                .into_paginator()
                .page_size(ec2.page_size(200))
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| error(&e))?;
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
            Ok(templates
                .iter()
                .filter_map(|t| {
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
                    Some(Item {
                        id: id.to_string(),
                        value,
                    })
                })
                .collect())
        })
    }
}
