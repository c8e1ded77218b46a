//! How long each drift has lasted. A drifted field's `first_seen` is the start of the first scan
//! in the history where the same field of the same resource drifted and has drifted in every scan
//! of its target since. It is carried forward scan by scan: a drift the previous scan of its
//! target also had keeps that scan's `first_seen`; any other starts now. A scan in which the
//! field did not drift breaks the chain, so a drift that comes back starts again.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::ScanReport;
use crate::judge::ResourceReport;

/// When each drift of some targets was first seen: resource (target, group, kind, namespace,
/// name) → field path → time.
#[derive(Clone, Debug, Default)]
pub struct Ages {
    first_seen: HashMap<String, HashMap<String, DateTime<Utc>>>,
}

fn resource_key(r: &ResourceReport) -> String {
    format!(
        "{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}",
        r.target,
        crate::model::split_api_version(&r.api_version).0,
        r.kind,
        r.namespace.as_deref().unwrap_or(""),
        r.name
    )
}

impl Ages {
    /// The ages in a stored report, for its resources of `target` (every target: `None`). A
    /// drift stored without `first_seen` (history from before drift ages) dates from that scan.
    pub fn of(report: &ScanReport, target: Option<&str>) -> Ages {
        let mut first_seen: HashMap<String, HashMap<String, DateTime<Utc>>> = HashMap::new();
        for r in report
            .resources
            .iter()
            .filter(|r| target.is_none_or(|t| r.target == t))
            .filter(|r| !r.drifts.is_empty())
        {
            let paths = first_seen.entry(resource_key(r)).or_default();
            for d in &r.drifts {
                paths.insert(
                    d.path.clone(),
                    d.first_seen.unwrap_or(report.scan.started_at),
                );
            }
        }
        Ages { first_seen }
    }

    /// The ages after `report` (dated with [`Ages::apply`]) for `target`: its drifts, and these
    /// ages of resources it did not judge at all (a kind that could not be read, a read that
    /// failed): a scan that says nothing about a resource does not end its drifts' chains.
    pub fn after(&self, report: &ScanReport, target: &str) -> Ages {
        let mut next = Ages::of(report, Some(target));
        let judged: std::collections::HashSet<String> = report
            .resources
            .iter()
            .filter(|r| r.target == target)
            .map(|r| resource_key(r))
            .collect();
        let prefix = format!("{target}\u{0}");
        for (resource, paths) in &self.first_seen {
            if resource.starts_with(&prefix) && !judged.contains(resource) {
                next.first_seen
                    .entry(resource.clone())
                    .or_insert_with(|| paths.clone());
            }
        }
        next
    }

    /// Adds another report's ages (for targets this one does not hold).
    pub fn extend(&mut self, other: Ages) {
        self.first_seen.extend(other.first_seen);
    }

    /// Dates every drift of the report: from these ages where the previous scan of its target
    /// had the same drift, from this scan's start otherwise.
    pub fn apply(&self, report: &mut ScanReport) {
        let now = report.scan.started_at;
        for r in report.resources.iter_mut().filter(|r| !r.drifts.is_empty()) {
            // Only drifted resources change: the others stay shared with `serve`'s memo.
            let r = Arc::make_mut(r);
            let known = self.first_seen.get(&resource_key(r));
            for d in &mut r.drifts {
                let seen = known.and_then(|paths| paths.get(&d.path)).copied();
                d.first_seen = Some(seen.unwrap_or(now).min(now));
            }
        }
    }
}

/// The first_seen of each target's oldest drift (targets without drift are absent).
pub fn oldest(report: &ScanReport) -> HashMap<&str, DateTime<Utc>> {
    let mut out: HashMap<&str, DateTime<Utc>> = HashMap::new();
    for r in &report.resources {
        for d in &r.drifts {
            if let Some(seen) = d.first_seen {
                out.entry(r.target.as_str())
                    .and_modify(|t| *t = (*t).min(seen))
                    .or_insert(seen);
            }
        }
    }
    out
}

/// `3d 4h`, `5h 12m`, `42m`, `18s`: an age as people read it.
pub fn human(seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::{Drift, Status};
    use crate::model::ResourceKey;
    use serde_json::json;

    fn report(at: &str, drifted: &[(&str, &str)]) -> ScanReport {
        let mut report: ScanReport = serde_json::from_value(json!({
            "schema": "gitdrift.report/v1",
            "scan": {"started_at": at, "finished_at": at, "gitdrift_version": "0.1.0",
                     "config": "gitdrift.yaml", "sources": [],
                     "targets": [{"name": "lab", "provider": "snapshot", "location": "x",
                                  "observed_at": at, "objects": 1}]},
            "summary": {"resources": 0, "in_sync": 0, "drifted": 0, "missing": 0, "unmanaged": 0,
                        "drifts": 0, "unreadable": 0, "errors": 0, "warnings": 0},
            "resources": [], "problems": [], "stale_ignore_rules": [], "unreadable": [],
            "coverage": [], "findings": [],
            "compliance": {"rules": [], "failing": {}, "waived": 0, "frameworks": [], "waivers": []}
        }))
        .unwrap();
        for (name, path) in drifted {
            let key = ResourceKey {
                group: "apps".into(),
                kind: "Deployment".into(),
                namespace: Some("shop".into()),
                name: name.to_string(),
            };
            let r = ResourceReport::new("lab", "apps/v1", &key, Status::Drifted);
            let mut r = r.judged(crate::diff::Verdict {
                drifts: vec![Drift {
                    path: path.to_string(),
                    desired: json!(1),
                    live: json!(2),
                    reason: Default::default(),
                    changed_by: None,
                    changed_at: None,
                    owners: vec![],
                    git_path: None,
                    line: None,
                    first_seen: None,
                }],
                ..Default::default()
            });
            r.status = Status::Drifted;
            report.resources.push(Arc::new(r));
        }
        report
    }

    fn seen(report: &ScanReport, name: &str) -> String {
        let r = report.resources.iter().find(|r| r.name == name).unwrap();
        r.drifts[0].first_seen.unwrap().to_rfc3339()
    }

    #[test]
    fn a_drift_keeps_its_first_scan_while_it_lasts_and_starts_again_when_it_returns() {
        let t1 = "2026-12-01T10:00:00Z";
        let t2 = "2026-12-01T11:00:00Z";
        let t3 = "2026-12-01T12:00:00Z";
        let t4 = "2026-12-01T13:00:00Z";
        let mut first = report(t1, &[("web", "/spec/replicas"), ("api", "/spec/replicas")]);
        Ages::default().apply(&mut first);
        assert_eq!(seen(&first, "web"), "2026-12-01T10:00:00+00:00");
        // Scan 2: web still drifts, api is back in line.
        let mut second = report(t2, &[("web", "/spec/replicas")]);
        Ages::of(&first, None).apply(&mut second);
        assert_eq!(seen(&second, "web"), "2026-12-01T10:00:00+00:00");
        // Scan 3: api drifts again, web now drifts in another field.
        let mut third = report(t3, &[("web", "/spec/paused"), ("api", "/spec/replicas")]);
        Ages::of(&second, None).apply(&mut third);
        assert_eq!(
            seen(&third, "api"),
            "2026-12-01T12:00:00+00:00",
            "the chain broke"
        );
        assert_eq!(
            seen(&third, "web"),
            "2026-12-01T12:00:00+00:00",
            "another field"
        );
        let oldest = oldest(&third);
        assert_eq!(oldest["lab"].to_rfc3339(), "2026-12-01T12:00:00+00:00");
        // A stored drift without first_seen dates from its own scan.
        let mut fourth = report(t4, &[("api", "/spec/replicas")]);
        let mut stored = third.clone();
        stored.resources.iter_mut().for_each(|r| {
            Arc::make_mut(r)
                .drifts
                .iter_mut()
                .for_each(|d| d.first_seen = None);
        });
        Ages::of(&stored, Some("lab")).apply(&mut fourth);
        assert_eq!(seen(&fourth, "api"), "2026-12-01T12:00:00+00:00");
        assert!(Ages::of(&stored, Some("other")).first_seen.is_empty());
        // A scan that could not judge api (its kind unreadable) keeps api's chain.
        let blind = report("2026-12-01T14:00:00Z", &[("web", "/spec/paused")]);
        let carried = Ages::of(&third, None).after(&blind, "lab");
        let mut fifth = report("2026-12-01T15:00:00Z", &[("api", "/spec/replicas")]);
        carried.apply(&mut fifth);
        assert_eq!(seen(&fifth, "api"), "2026-12-01T12:00:00+00:00");
        // One that judged api in sync ends it.
        let mut judged_in_sync = report("2026-12-01T14:00:00Z", &[("api", "/spec/replicas")]);
        Arc::make_mut(&mut judged_in_sync.resources[0])
            .drifts
            .clear();
        let mut sixth = report("2026-12-01T15:00:00Z", &[("api", "/spec/replicas")]);
        Ages::of(&third, None)
            .after(&judged_in_sync, "lab")
            .apply(&mut sixth);
        assert_eq!(seen(&sixth, "api"), "2026-12-01T15:00:00+00:00");
    }

    #[test]
    fn ages_read_as_people_write_them() {
        assert_eq!(human(18), "18s");
        assert_eq!(human(42 * 60 + 5), "42m");
        assert_eq!(human(5 * 3600 + 12 * 60), "5h 12m");
        assert_eq!(human(3 * 86_400 + 4 * 3600 + 59), "3d 4h");
        assert_eq!(human(-3), "0s");
    }
}
