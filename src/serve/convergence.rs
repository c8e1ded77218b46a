//! Convergence in `serve`: after each published scan, each source's revision is judged
//! ([`crate::report::convergence::judge`]). A new commit becomes the source's current revision
//! (first seen when its fetch read it); the first scan that finds it in sync and healthy
//! converges it, observed in `gitdrift_source_convergence_seconds` and kept in the history.
//! Until then `gitdrift_source_unconverged_age_seconds` grows. State survives restarts: it is
//! loaded from the history at start.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use super::Service;
use crate::report::ScanReport;
use crate::report::convergence::{self, Revision};
use crate::store::{Heads, Store};

/// Each source's current and last converged revision.
#[derive(Debug, Default)]
pub struct Tracker {
    by_source: Mutex<HashMap<String, Heads>>,
}

/// A change to write to the history.
enum Write {
    Add(Revision),
    Superseded(String, DateTime<Utc>),
    Converged(String, String, DateTime<Utc>),
}

impl Tracker {
    /// The state the history holds (empty when it cannot be read: every source starts again
    /// from a baseline).
    pub fn load(store: &Store) -> Tracker {
        let by_source = store.revision_heads().unwrap_or_else(|err| {
            tracing::warn!(message = "cannot read the revisions' history; starting afresh", error = %err);
            HashMap::new()
        });
        Tracker {
            by_source: Mutex::new(by_source),
        }
    }

    /// A source's current and last converged revision.
    pub fn heads(&self, source: &str) -> Heads {
        self.lock().get(source).cloned().unwrap_or_default()
    }

    /// Forgets a source that left the configuration (its history stays).
    pub fn forget(&self, source: &str) {
        self.lock().remove(source);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Heads>> {
        self.by_source.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Judges every source of a published scan: a new revision is recorded, a converged one
    /// closed. `seen_at` tells when a source's fetch first read a commit, if it did. Returns
    /// what the history must record, and the convergences to observe.
    fn observe(
        &self,
        report: &ScanReport,
        seen_at: impl Fn(&str, &str) -> Option<DateTime<Utc>>,
    ) -> (Vec<Write>, Vec<Revision>) {
        let mut writes = Vec::new();
        let mut converged = Vec::new();
        let mut by_source = self.lock();
        for read in report.scan.sources.iter().filter(|s| !s.stale) {
            let Some(commit) = read.commit.as_deref() else {
                continue;
            };
            if !report.scan.targets.iter().any(|t| t.name == read.target) {
                continue;
            }
            let heads = by_source.entry(read.name.clone()).or_default();
            if heads.current.as_ref().is_none_or(|c| c.commit != commit) {
                let revision = Revision::new(
                    &read.name,
                    &read.target,
                    commit,
                    read.committed_at,
                    seen_at(&read.name, commit).unwrap_or(report.scan.started_at),
                    heads.current.is_none(),
                );
                writes.push(Write::Add(revision.clone()));
                match heads.current.as_mut() {
                    // Replaced before it converged: it never will, and the source has been
                    // waiting since the oldest of them.
                    Some(old) if old.converged_at.is_none() => {
                        old.superseded_at = Some(revision.first_seen_at);
                        writes.push(Write::Superseded(read.name.clone(), revision.first_seen_at));
                        heads.unconverged_since.get_or_insert(old.first_seen_at);
                    }
                    _ => heads.unconverged_since = Some(revision.first_seen_at),
                }
                heads.current = Some(revision);
            }
            let Some(current) = heads.current.as_mut() else {
                continue;
            };
            if current.converged_at.is_some() {
                continue;
            }
            match convergence::judge(report, &read.name, &read.target, commit) {
                Some(Ok(at)) => {
                    current.converge(at.max(current.first_seen_at));
                    writes.push(Write::Converged(
                        read.name.clone(),
                        commit.to_string(),
                        current.converged_at.unwrap_or(at),
                    ));
                    heads.last_converged = Some(current.clone());
                    heads.unconverged_since = None;
                    if !current.baseline {
                        converged.push(current.clone());
                    }
                }
                Some(Err(waiting)) => current.waiting = Some(waiting),
                None => {}
            }
        }
        (writes, converged)
    }
}

/// Judges a published scan's sources, records what changed in the history and the metrics.
pub(super) async fn observe(service: &Arc<Service>, report: &Arc<ScanReport>) {
    // When each fetch first read its revision, copied out first: the sources' lock is never
    // taken under the tracker's (the API takes them the other way round).
    let seen: HashMap<String, (Option<String>, Option<DateTime<Utc>>)> = service
        .sources
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(name, entry)| {
            (
                name.clone(),
                (entry.status.revision.clone(), entry.status.revision_seen_at),
            )
        })
        .collect();
    let (writes, converged) = service.convergence.observe(report, |source, commit| {
        let (revision, at) = seen.get(source)?;
        (revision.as_deref() == Some(commit))
            .then_some(*at)
            .flatten()
    });
    for revision in &converged {
        tracing::info!(
            message = "revision converged",
            source = %revision.source,
            revision = %revision.commit,
            seconds_from_commit = revision.seconds_from_commit,
            seconds_from_first_seen = revision.seconds_from_first_seen,
        );
        service.metrics.converged(
            &revision.source,
            revision.seconds_from_commit,
            revision.seconds_from_first_seen.unwrap_or_default(),
        );
    }
    for read in &report.scan.sources {
        let heads = service.convergence.heads(&read.name);
        if heads.current.is_some() {
            service
                .metrics
                .revision_state(&read.name, heads.unconverged_since);
        }
    }
    if writes.is_empty() {
        return;
    }
    let store = Arc::clone(&service.store);
    let written = tokio::task::spawn_blocking(move || {
        for write in writes {
            match write {
                Write::Add(revision) => store.add_revision(&revision)?,
                Write::Superseded(source, at) => store.revisions_superseded(&source, at)?,
                Write::Converged(source, commit, at) => {
                    store.revision_converged(&source, &commit, at)?
                }
            }
        }
        Ok::<(), crate::store::StoreError>(())
    })
    .await;
    if let Ok(Err(err)) = written {
        tracing::error!(message = "revision history not written", error = %err);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scan(commit: &str, at: &str, health: &str) -> ScanReport {
        serde_json::from_value(json!({
            "schema": crate::report::SCHEMA,
            "scan": {"started_at": at, "finished_at": at,
                     "gitdrift_version": "0.1.0", "config": "gitdrift.yaml",
                     "sources": [{"name": "shop", "repo": ".", "ref": null, "commit": commit,
                                  "committed_at": "2026-12-01T09:59:00Z",
                                  "target": "prod", "files": 1, "objects": 1}],
                     "targets": [{"name": "prod", "provider": "kubernetes", "location": "k",
                                  "observed_at": at, "objects": 1}]},
            "summary": {"resources": 1, "in_sync": 1, "drifted": 0, "missing": 0, "unmanaged": 0,
                        "drifts": 0, "unreadable": 0, "errors": 0, "warnings": 0},
            "resources": [{"target": "prod", "apiVersion": "apps/v1", "kind": "Deployment",
                           "namespace": "shop", "name": "web", "status": "in_sync",
                           "source": {"name": "shop", "file": "web.yaml", "line": 1},
                           "drifts": [], "health": {"status": health, "reason": "why"}}],
            "problems": [], "stale_ignore_rules": [], "unreadable": [], "coverage": [],
            "findings": [],
            "compliance": {"rules": [], "failing": {}, "waived": 0, "frameworks": [], "waivers": []}
        }))
        .unwrap()
    }

    #[test]
    fn a_baseline_is_recorded_and_a_new_revision_measured_once() {
        let tracker = Tracker::default();
        let (writes, converged) =
            tracker.observe(&scan("a", "2026-12-01T10:00:00Z", "healthy"), |_, _| None);
        assert_eq!(writes.len(), 2, "added and converged");
        assert!(
            converged.is_empty(),
            "the first revision seen is a baseline"
        );
        let seen: DateTime<Utc> = "2026-12-01T10:00:10Z".parse().unwrap();
        let (writes, converged) = tracker.observe(
            &scan("b", "2026-12-01T10:00:20Z", "progressing"),
            |_, commit| (commit == "b").then_some(seen),
        );
        assert_eq!(writes.len(), 1);
        assert!(converged.is_empty());
        let current = tracker.heads("shop").current.unwrap();
        assert_eq!(current.first_seen_at, seen);
        assert_eq!(
            current.waiting.unwrap().on,
            ["Deployment shop/web: progressing: why"]
        );
        let (_, converged) =
            tracker.observe(&scan("b", "2026-12-01T10:01:10Z", "healthy"), |_, _| None);
        assert_eq!(converged.len(), 1);
        assert_eq!(converged[0].seconds_from_first_seen, Some(60.0));
        assert_eq!(converged[0].seconds_from_commit, Some(130.0));
        // Converged once: later scans change nothing.
        let (writes, converged) =
            tracker.observe(&scan("b", "2026-12-01T10:05:00Z", "healthy"), |_, _| None);
        assert!(writes.is_empty() && converged.is_empty());
        assert_eq!(tracker.heads("shop").last_converged.unwrap().commit, "b");
        assert_eq!(tracker.heads("shop").unconverged_since, None);
    }

    #[test]
    fn commits_replacing_each_other_unapplied_keep_aging_from_the_first() {
        let tracker = Tracker::default();
        tracker.observe(&scan("a", "2026-12-01T10:00:00Z", "healthy"), |_, _| None);
        tracker.observe(&scan("b", "2026-12-01T10:10:00Z", "progressing"), |_, _| {
            None
        });
        let (writes, _) = tracker
            .observe(&scan("c", "2026-12-01T10:20:00Z", "progressing"), |_, _| {
                None
            });
        assert!(
            writes
                .iter()
                .any(|w| matches!(w, Write::Superseded(s, _) if s == "shop")),
            "b is marked superseded"
        );
        let heads = tracker.heads("shop");
        assert_eq!(heads.current.unwrap().commit, "c");
        assert_eq!(
            heads.unconverged_since,
            Some("2026-12-01T10:10:00Z".parse().unwrap()),
            "waiting since b was first seen, not c"
        );
        let (_, converged) =
            tracker.observe(&scan("c", "2026-12-01T10:25:00Z", "healthy"), |_, _| None);
        assert_eq!(converged[0].commit, "c");
        assert_eq!(tracker.heads("shop").unconverged_since, None);
    }
}
