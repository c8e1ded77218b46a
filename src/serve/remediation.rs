//! Remediation in service mode: after a clean scan, the target's plan is proposed through the
//! configured provider, at most `remediation.max_per_hour` writing proposals an hour, one at a
//! time; each branch's state is kept for the API and the metrics.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Service;
use crate::config::Config;
use crate::report::ScanReport;

/// How a remediation branch stands, for the API.
#[derive(Clone, Debug, Serialize)]
pub struct RemediationStatus {
    /// The source.
    pub source: String,
    /// Its target.
    pub target: String,
    /// The branch.
    pub branch: String,
    /// `open`, `closed`, `left_alone`, `rate_limited` or `error`.
    pub state: String,
    /// The pull or merge request.
    pub url: Option<String>,
    /// What the last proposal did, or why it failed.
    pub detail: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// After a clean scan of a target: its plan proposed through the provider, at most
/// `remediation.max_per_hour` writing proposals an hour, one at a time.
pub(super) async fn remediate_target(
    service: &Arc<Service>,
    config: &Arc<Config>,
    target: &str,
    report: Arc<ScanReport>,
    id: Option<i64>,
) {
    let Some(provider) = config.remediation.provider.clone() else {
        return;
    };
    let _one_at_a_time = service.remediating.lock().await;
    let hour = Duration::from_secs(3600);
    // Each source's proposal takes from the budget; checked before each one.
    let budget_left = || {
        let mut writes = service
            .remediation_writes
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        writes.retain(|t| t.elapsed() < hour);
        writes.len() < config.remediation.max_per_hour
    };
    let record =
        |source: &str, branch: String, state: &str, url: Option<String>, detail: String| {
            service
                .remediations
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(
                    branch.clone(),
                    RemediationStatus {
                        source: source.to_string(),
                        target: target.to_string(),
                        branch,
                        state: state.to_string(),
                        url,
                        detail,
                        at: Utc::now(),
                    },
                );
        };
    let sources: Vec<&crate::config::Source> = config
        .sources
        .iter()
        .filter(|s| s.target == target)
        .collect();
    let plan = {
        let (config, report, cache) = (
            Arc::clone(config),
            Arc::clone(&report),
            service.options.cache_dir.clone(),
        );
        tokio::task::spawn_blocking(move || crate::remediate::plan(&config, &report, &cache)).await
    };
    let Ok(mut plan) = plan else {
        return;
    };
    let candidates = crate::remediate::import_candidates(config, &report);
    if !candidates.is_empty() {
        let recorder: Arc<dyn crate::live::Recorder> = service.metrics.clone();
        let live = crate::remediate::read_unmanaged(config, &candidates, &recorder).await;
        crate::remediate::add_imports(
            config,
            &report,
            &live,
            &mut plan,
            &service.options.cache_dir,
        );
    }
    let scan = crate::remediate::propose::ScanRef {
        id,
        url: match (&config.serve.external_url, id) {
            (Some(base), Some(id)) => Some(format!(
                "{}/api/v1/scans/{id}/report?format=html",
                base.trim_end_matches('/')
            )),
            _ => None,
        },
    };
    for source in &sources {
        let branch = crate::remediate::local::branch_name(&source.name, &source.target);
        if !budget_left() {
            record(
                &source.name,
                branch,
                "rate_limited",
                None,
                format!(
                    "at most {} proposals an hour: waiting for the next scan",
                    config.remediation.max_per_hour
                ),
            );
            continue;
        }
        let proposed = crate::remediate::propose::propose(
            config,
            &provider,
            &report,
            &plan,
            Some(&source.name),
            &scan,
        )
        .await;
        match proposed {
            Ok(proposals) => {
                for p in proposals {
                    let writes = matches!(
                        p.outcome,
                        crate::remediate::local::Outcome::Opened { .. }
                            | crate::remediate::local::Outcome::Updated { .. }
                            | crate::remediate::local::Outcome::Closed
                    );
                    if writes {
                        service
                            .remediation_writes
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(std::time::Instant::now());
                    }
                    let detail = p.describe().unwrap_or_default();
                    match p.state() {
                        Some(state) => {
                            tracing::info!(message = "remediation", %detail);
                            record(&p.source, p.branch.clone(), state, p.url.clone(), detail)
                        }
                        None => {
                            service
                                .remediations
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .remove(&p.branch);
                        }
                    }
                }
            }
            Err(err) => {
                tracing::error!(message = "remediation failed", source = %source.name, code = %err.code(), error = %err);
                record(&source.name, branch, "error", None, err.to_string());
            }
        }
    }
    publish_remediation(service);
}

pub(super) fn publish_remediation(service: &Service) {
    let states: Vec<String> = service
        .remediations
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .map(|r| r.state.clone())
        .collect();
    let states: Vec<&str> = states.iter().map(String::as_str).collect();
    service.metrics.remediation_states(&states);
}
