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

/// A target's clean scan waiting for its plan to be proposed.
pub(super) type Pending = (Arc<Config>, Arc<ScanReport>, Option<i64>);

/// Work waiting for one worker, the latest item per key only: a target scanned ten times
/// while a slow hosting API answers waits with one report, not ten.
#[derive(Debug)]
pub struct Queue<T> {
    items: std::collections::BTreeMap<String, T>,
    draining: bool,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Queue {
            items: std::collections::BTreeMap::new(),
            draining: false,
        }
    }
}

impl<T> Queue<T> {
    /// Keeps `item` as the key's latest (dropping an older one); true when no worker is
    /// draining the queue, so the caller starts one.
    pub fn push(&mut self, key: &str, item: T) -> bool {
        self.items.insert(key.to_string(), item);
        !std::mem::replace(&mut self.draining, true)
    }

    /// The next item; `None` ends the worker (the next push starts another).
    pub fn pop(&mut self) -> Option<(String, T)> {
        let next = self.items.pop_first();
        if next.is_none() {
            self.draining = false;
        }
        next
    }

    /// Items waiting.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.items.len()
    }
}

/// Queues a target's plan after a clean scan (replacing one still waiting) and makes sure a
/// worker proposes the queued plans, one at a time.
pub(super) fn enqueue_plan(
    service: &Arc<Service>,
    config: Arc<Config>,
    target: &str,
    report: Arc<ScanReport>,
    id: Option<i64>,
) {
    let start = service
        .pending_plans
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(target, (config, report, id));
    if !start {
        return;
    }
    let service = Arc::clone(service);
    tokio::spawn(async move {
        loop {
            let next = service
                .pending_plans
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop();
            let Some((target, (config, report, id))) = next else {
                return;
            };
            remediate_target(&service, &config, &target, report, id).await;
        }
    });
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

#[cfg(test)]
mod tests {
    use super::Queue;

    #[test]
    fn the_queue_keeps_the_latest_item_per_key_and_one_worker() {
        let mut queue = Queue::default();
        assert!(queue.push("lab", 1), "the first push starts a worker");
        for n in 2..=1000 {
            assert!(!queue.push("lab", n), "a worker is already draining");
        }
        assert!(!queue.push("prod", 7));
        assert_eq!(
            queue.len(),
            2,
            "one waiting item per target, however many scans"
        );
        assert_eq!(queue.pop(), Some(("lab".to_string(), 1000)));
        assert_eq!(queue.pop(), Some(("prod".to_string(), 7)));
        assert_eq!(queue.pop(), None);
        assert_eq!(queue.len(), 0);
        assert!(
            queue.push("lab", 1001),
            "once drained, the next push starts a worker"
        );
    }
}
