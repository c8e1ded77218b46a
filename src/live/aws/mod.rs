//! Live state from AWS: the EC2 family, read with Describe/Get calls only, every page, region by
//! region (at most `concurrency` calls in flight per region), with adaptive retries on
//! throttling. Clients come from [`client::ec2`], which puts [`guard::ReadOnlyInterceptor`] in
//! place; collectors, one per resource type, are in [`types`].

pub mod client;
pub mod guard;
pub mod json;
pub mod offline;
pub mod types;

use std::sync::Arc;

use chrono::Utc;

use super::{LiveRead, Recorder, Unreadable};
use crate::config::AwsSettings;
use crate::model::{Body, Code, GroupKind, Object, Origin, Problem, Scope, Severity};

/// Reads one AWS target (an account, through its credentials or role, in its regions).
#[derive(Clone, Debug)]
pub struct AwsProvider {
    settings: AwsSettings,
    recorder: Arc<dyn Recorder>,
}

impl AwsProvider {
    /// A provider for a target's settings; its guard counts requests in `recorder`.
    pub fn new(settings: AwsSettings, recorder: Arc<dyn Recorder>) -> AwsProvider {
        AwsProvider { settings, recorder }
    }

    /// The settings.
    pub fn settings(&self) -> &AwsSettings {
        &self.settings
    }

    /// Where the state comes from, for reports.
    pub fn location(&self) -> String {
        let regions = if self.settings.all_regions {
            "all regions".to_string()
        } else {
            self.settings.regions.join(", ")
        };
        let mut out = format!("regions {regions}");
        if let Some(role) = &self.settings.role_arn {
            out.push_str(&format!(" as {role}"));
        }
        if let Some(url) = &self.settings.endpoint_url {
            out.push_str(&format!(" at {}", crate::model::redact::url(url)));
        }
        out
    }

    /// The regions to read: the configured list, or every enabled region (DescribeRegions).
    pub async fn regions(&self) -> Result<Vec<String>, types::AwsError> {
        if !self.settings.all_regions {
            return Ok(self.settings.regions.clone());
        }
        let home = std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|_| "us-east-1".to_string());
        let ec2 = client::ec2(&self.settings, &home, &self.recorder).await;
        let output = ec2
            .describe_regions()
            .send()
            .await
            .map_err(|e| types::error(&e))?;
        let mut regions: Vec<String> = output
            .regions()
            .iter()
            .filter_map(|r| r.region_name().map(str::to_string))
            .collect();
        regions.sort();
        Ok(regions)
    }

    /// Reads every configured type in every region.
    pub async fn read(&self, target: &str) -> LiveRead {
        let mut out = LiveRead::empty();
        let regions = match self.regions().await {
            Ok(regions) => regions,
            Err(err) => {
                out.problems.push(
                    Problem::new(
                        Severity::Error,
                        err.code(),
                        format!("cannot list the AWS regions: {err}"),
                    )
                    .target(target),
                );
                out.complete = false;
                return out;
            }
        };
        let collectors: Vec<&'static dyn types::AwsType> = types::ALL
            .iter()
            .copied()
            .filter(|c| {
                self.settings.types.is_empty() || self.settings.types.iter().any(|t| t == c.name())
            })
            .collect();
        for collector in &collectors {
            out.scopes.insert(gk(collector.name()), Scope::Namespaced);
        }
        let mut tasks = Vec::new();
        for region in regions {
            let settings = self.settings.clone();
            let recorder = Arc::clone(&self.recorder);
            let collectors = collectors.clone();
            tasks.push(tokio::spawn(async move {
                read_region(&settings, &region, &collectors, &recorder).await
            }));
        }
        let mut attempted = 0usize;
        let mut failed = 0usize;
        for task in tasks {
            let Ok(results) = task.await else {
                continue;
            };
            for (region, resource_type, result) in results {
                attempted += 1;
                match result {
                    Ok(items) => {
                        out.aws_read
                            .insert((region.clone(), resource_type.to_string()));
                        for item in items {
                            out.objects.push(object(&region, resource_type, item));
                        }
                    }
                    Err(err) => {
                        failed += 1;
                        out.unreadable.push(Unreadable {
                            gk: gk(resource_type),
                            code: err.code(),
                            message: format!("{region}: {err}"),
                        });
                    }
                }
            }
        }
        if attempted > 0 && failed == attempted {
            // Nothing could be read at all: say so once, and call nothing missing.
            let (code, first) = out
                .unreadable
                .first()
                .map(|u| (u.code, u.message.clone()))
                .unwrap_or((Code::AwsError, String::new()));
            out.unreadable.clear();
            out.problems.push(
                Problem::new(Severity::Error, code, format!("cannot read AWS: {first}"))
                    .target(target),
            );
            out.complete = false;
        }
        out.observed_at = Utc::now();
        out
    }
}

type Outcome = (
    String,
    &'static str,
    Result<Vec<types::Item>, types::AwsError>,
);

async fn read_region(
    settings: &AwsSettings,
    region: &str,
    collectors: &[&'static dyn types::AwsType],
    recorder: &Arc<dyn Recorder>,
) -> Vec<Outcome> {
    let ec2 = Arc::new(client::ec2(settings, region, recorder).await);
    let permits = Arc::new(tokio::sync::Semaphore::new(settings.concurrency.max(1)));
    let mut tasks = Vec::new();
    for collector in collectors {
        let ec2 = Arc::clone(&ec2);
        let permits = Arc::clone(&permits);
        let collector = *collector;
        tasks.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await;
            let result = collector.collect(&ec2).await;
            (collector.name(), result)
        }));
    }
    let mut out = Vec::new();
    for task in tasks {
        if let Ok((resource_type, result)) = task.await {
            out.push((region.to_string(), resource_type, result));
        }
    }
    out
}

fn gk(resource_type: &str) -> GroupKind {
    GroupKind {
        group: crate::model::aws::GROUP.to_string(),
        kind: resource_type.to_string(),
    }
}

/// A live AWS resource as an object: group `aws`, kind = type, namespace = region, name = id.
pub fn object(region: &str, resource_type: &str, item: types::Item) -> Object {
    let mut body = Body::Tree(item.value);
    body.freeze();
    Object {
        api_version: crate::model::aws::API_VERSION.to_string(),
        group: crate::model::aws::GROUP.to_string(),
        kind: resource_type.to_string(),
        namespace: Some(region.to_string()),
        name: item.id,
        body,
        origin: Origin {
            file: format!("{region}/{resource_type}"),
            line: None,
            rendered: None,
        },
        owned: false,
        applied: None,
    }
}
