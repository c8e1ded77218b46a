//! Convergence: how long a commit takes to reach the live state. A source's revision has
//! *converged* when a scan judged it (the scan read that commit) and every resource it declares
//! on its target is in sync and healthy (or suspended on purpose), with nothing on the target
//! left unread and no error on either side. This measures whatever applies git (Argo CD, Flux,
//! a pipeline) from outside, read-only. `serve` tracks each source's revisions, keeps them in
//! the history and puts the ones of a scheduled report's period in the report ([`Revision`] in
//! `ScanReport::convergence`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ScanReport;
use crate::diff::Status;
use crate::health::HealthStatus;
use crate::model::Severity;

/// At most this many resources are named as what a revision waits on.
pub const MAX_WAITING: usize = 5;

/// One revision of a source and its way to the live state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Revision {
    /// The source.
    pub source: String,
    /// The target it declares.
    pub target: String,
    /// The commit id.
    pub commit: String,
    /// The commit's committer time, as git records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committed_at: Option<DateTime<Utc>>,
    /// When gitdrift first read this revision.
    pub first_seen_at: DateTime<Utc>,
    /// When a scan first found it converged (the live state's observation time); `null` while
    /// it has not.
    pub converged_at: Option<DateTime<Utc>>,
    /// When a newer commit replaced it before it converged; it never converges then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_at: Option<DateTime<Utc>>,
    /// The first revision gitdrift knew of the source (at first start, or after the history
    /// was lost): it was not seen arriving, so its convergence is recorded but not measured.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub baseline: bool,
    /// Once converged: seconds from the commit time (never negative, whatever the committer's
    /// clock said).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_from_commit: Option<f64>,
    /// Once converged: seconds from gitdrift's first read of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_from_first_seen: Option<f64>,
    /// Until it converges: how many resources it waits on, and the first few of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<Waiting>,
}

/// What a revision waits on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Waiting {
    /// Declared resources not yet in sync and healthy.
    pub resources: usize,
    /// The first [`MAX_WAITING`] of them, each `Kind namespace/name: why`, or what else stops
    /// the judgement (a kind not read, an error).
    pub on: Vec<String>,
}

impl Revision {
    /// A revision first seen at `first_seen_at`.
    pub fn new(
        source: &str,
        target: &str,
        commit: &str,
        committed_at: Option<DateTime<Utc>>,
        first_seen_at: DateTime<Utc>,
        baseline: bool,
    ) -> Revision {
        Revision {
            source: source.to_string(),
            target: target.to_string(),
            commit: commit.to_string(),
            committed_at,
            first_seen_at,
            converged_at: None,
            superseded_at: None,
            baseline,
            seconds_from_commit: None,
            seconds_from_first_seen: None,
            waiting: None,
        }
    }

    /// Marks it converged at `at`, with its durations.
    pub fn converge(&mut self, at: DateTime<Utc>) {
        self.converged_at = Some(at);
        self.seconds_from_commit = self.committed_at.map(|c| seconds(c, at));
        self.seconds_from_first_seen = Some(seconds(self.first_seen_at, at));
        self.waiting = None;
    }

    /// How long it has been waiting at `now` (0 once converged).
    pub fn unconverged_age(&self, now: DateTime<Utc>) -> f64 {
        match self.converged_at {
            Some(_) => 0.0,
            None => seconds(self.first_seen_at, now),
        }
    }
}

/// A revision as report tables show it: the commit (12 characters), when it was committed and
/// first seen, and its outcome (`converged in 3m 10s (2m 5s after gitdrift read it)`, or what
/// it waits on).
pub struct Row {
    /// `source@commit`.
    pub revision: String,
    /// Committed, or `-`.
    pub committed: String,
    /// First read.
    pub first_seen: String,
    /// The outcome.
    pub outcome: String,
}

impl Row {
    /// The row of a revision.
    pub fn of(r: &Revision) -> Row {
        let when = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
        let human = |s: f64| super::age::human(s.round() as i64);
        let outcome = match (r.converged_at, &r.waiting) {
            (Some(_), _) if r.baseline => "in sync and healthy (first revision seen)".to_string(),
            (Some(_), _) => {
                let from_seen = human(r.seconds_from_first_seen.unwrap_or_default());
                match r.seconds_from_commit {
                    Some(s) => format!("converged in {} ({from_seen} after it was read)", human(s)),
                    None => format!("converged {from_seen} after it was read"),
                }
            }
            (None, _) if r.superseded_at.is_some() => {
                "superseded by a newer commit before it converged".to_string()
            }
            (None, Some(w)) if w.resources > 0 => format!(
                "not converged: {} resources waiting ({})",
                w.resources,
                w.on.join("; ")
            ),
            (None, Some(w)) => format!("not converged: {}", w.on.join("; ")),
            (None, None) => "not converged".to_string(),
        };
        Row {
            revision: format!(
                "{}@{}",
                r.source,
                r.commit.chars().take(12).collect::<String>()
            ),
            committed: r.committed_at.map_or("-".to_string(), when),
            first_seen: when(r.first_seen_at),
            outcome,
        }
    }
}

fn seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_milliseconds().max(0) as f64 / 1000.0
}

/// Whether `report` shows the revision `commit` of `source` converged on its `target`:
/// `Ok(observed_at)` (when the target's live state was read), or what it waits on. `None` when
/// the report did not judge that revision (another commit, a stale read, the target not in it).
pub fn judge(
    report: &ScanReport,
    source: &str,
    target: &str,
    commit: &str,
) -> Option<Result<DateTime<Utc>, Waiting>> {
    let read = report.scan.sources.iter().find(|s| s.name == source)?;
    if read.commit.as_deref() != Some(commit) || read.stale {
        return None;
    }
    let observed_at = report
        .scan
        .targets
        .iter()
        .find(|t| t.name == target)?
        .observed_at;
    let mut waiting = Waiting::default();
    fn note(waiting: &mut Waiting, line: String) {
        if waiting.on.len() < MAX_WAITING {
            waiting.on.push(line);
        }
    }
    // Kinds not read stop the judgement where something declares them.
    for kind in report
        .unreadable
        .iter()
        .filter(|u| u.target == target && u.declared > 0)
    {
        note(
            &mut waiting,
            format!("{} not read: {}", kind.kind, kind.reason),
        );
    }
    for problem in report
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error && p.source.as_deref() == Some(source))
    {
        note(&mut waiting, format!("error: {}", problem.message));
    }
    // Every declared object judged: a live read that failed, a kind not read, a declaration
    // made twice leave some out.
    let judged = report
        .resources
        .iter()
        .filter(|r| r.target == target && r.source.as_ref().is_some_and(|s| s.name == source))
        .count();
    if judged < read.objects {
        note(
            &mut waiting,
            format!(
                "{} of {} declared objects not judged",
                read.objects - judged,
                read.objects
            ),
        );
    }
    let blocked = !waiting.on.is_empty();
    for r in report
        .resources
        .iter()
        .filter(|r| r.target == target && r.source.as_ref().is_some_and(|s| s.name == source))
    {
        let health = r.health.as_ref();
        // Unknown is what gitdrift cannot judge (status checks it may not read): not held
        // against the revision.
        let healthy = health.is_none_or(|h| {
            matches!(
                h.status,
                HealthStatus::Healthy | HealthStatus::Suspended | HealthStatus::Unknown
            )
        });
        if r.status == Status::InSync && healthy {
            continue;
        }
        waiting.resources += 1;
        let name = match &r.namespace {
            Some(ns) => format!("{} {ns}/{}", r.kind, r.name),
            None => format!("{} {}", r.kind, r.name),
        };
        let why = match (r.status, health) {
            (Status::InSync, Some(h)) => format!("{}: {}", h.status.as_str(), h.reason),
            (status, _) => status.as_str().to_string(),
        };
        note(&mut waiting, format!("{name}: {why}"));
    }
    if waiting.resources == 0 && !blocked {
        Some(Ok(observed_at))
    } else {
        Some(Err(waiting))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(commit: &str, resources: serde_json::Value, extra: serde_json::Value) -> ScanReport {
        let mut value = json!({
            "schema": crate::report::SCHEMA,
            "scan": {"started_at": "2026-12-01T10:00:00Z", "finished_at": "2026-12-01T10:00:01Z",
                     "gitdrift_version": "0.1.0", "config": "gitdrift.yaml",
                     "sources": [{"name": "shop", "repo": ".", "ref": null, "commit": commit,
                                  "target": "prod", "files": 1, "objects": 2}],
                     "targets": [{"name": "prod", "provider": "kubernetes", "location": "k",
                                  "observed_at": "2026-12-01T10:00:00.500Z", "objects": 2}]},
            "summary": {"resources": 0, "in_sync": 0, "drifted": 0, "missing": 0, "unmanaged": 0,
                        "drifts": 0, "unreadable": 0, "errors": 0, "warnings": 0},
            "resources": resources,
            "problems": [], "stale_ignore_rules": [], "unreadable": [], "coverage": [],
            "findings": [],
            "compliance": {"rules": [], "failing": {}, "waived": 0, "frameworks": [], "waivers": []}
        });
        for (k, v) in extra.as_object().unwrap() {
            value[k] = v.clone();
        }
        serde_json::from_value(value).unwrap()
    }

    fn resource(name: &str, status: &str, health: &str) -> serde_json::Value {
        json!({"target": "prod", "apiVersion": "apps/v1", "kind": "Deployment",
               "namespace": "shop", "name": name, "status": status,
               "source": {"name": "shop", "file": "app.yaml", "line": 1},
               "drifts": [], "health": {"status": health, "reason": format!("{health} reason")}})
    }

    #[test]
    fn converged_when_every_declared_resource_is_in_sync_and_healthy() {
        let r = report(
            "abc",
            json!([
                resource("web", "in_sync", "healthy"),
                resource("nightly", "in_sync", "suspended"),
                // Not the source's: never waited on.
                {"target": "prod", "apiVersion": "v1", "kind": "Pod", "namespace": "shop",
                 "name": "stray", "status": "unmanaged", "drifts": [],
                 "health": {"status": "degraded", "reason": "crash"}}
            ]),
            json!({}),
        );
        assert_eq!(
            judge(&r, "shop", "prod", "abc"),
            Some(Ok("2026-12-01T10:00:00.500Z".parse().unwrap()))
        );
        assert_eq!(judge(&r, "shop", "prod", "def"), None, "another commit");
        assert_eq!(judge(&r, "other", "prod", "abc"), None, "another source");
    }

    #[test]
    fn drift_unhealthy_resources_unread_kinds_and_errors_each_hold_it_back() {
        let r = report(
            "abc",
            json!([
                resource("web", "drifted", "healthy"),
                resource("cart", "in_sync", "progressing"),
                resource("api", "missing", "missing"),
                resource("ok", "in_sync", "healthy"),
            ]),
            json!({}),
        );
        let waiting = judge(&r, "shop", "prod", "abc").unwrap().unwrap_err();
        assert_eq!(waiting.resources, 3);
        assert_eq!(
            waiting.on,
            [
                "Deployment shop/web: drifted",
                "Deployment shop/cart: progressing: progressing reason",
                "Deployment shop/api: missing"
            ]
        );
        let r = report(
            "abc",
            json!([resource("web", "in_sync", "healthy")]),
            json!({"unreadable": [{"target": "prod", "group": "apps", "kind": "StatefulSet",
                                   "reason": "forbidden", "message": "no", "declared": 1}],
                   "problems": [{"severity": "error", "code": "manifest.invalid",
                                 "source": "shop", "message": "bad.yaml: not YAML"}]}),
        );
        let waiting = judge(&r, "shop", "prod", "abc").unwrap().unwrap_err();
        assert_eq!(waiting.resources, 0);
        assert_eq!(
            waiting.on,
            [
                "StatefulSet not read: forbidden",
                "error: bad.yaml: not YAML",
                "1 of 2 declared objects not judged"
            ]
        );
    }

    #[test]
    fn what_the_source_does_not_declare_and_what_cannot_be_judged_do_not_hold_it_back() {
        let r = report(
            "abc",
            json!([
                resource("web", "in_sync", "healthy"),
                resource("api", "in_sync", "unknown"),
            ]),
            // A kind only watched for unmanaged objects, unreadable, and its error on the
            // target; another source's error.
            json!({"unreadable": [{"target": "prod", "group": "", "kind": "Secret",
                                   "reason": "forbidden", "message": "no", "declared": 0}],
                   "problems": [{"severity": "error", "code": "kube.forbidden", "target": "prod",
                                 "message": "Secret is unreadable: forbidden"},
                                {"severity": "error", "code": "manifest.syntax",
                                 "source": "other", "message": "x.yaml: not YAML"}]}),
        );
        assert!(matches!(judge(&r, "shop", "prod", "abc"), Some(Ok(_))));
    }

    #[test]
    fn durations_count_from_the_commit_and_from_first_sight() {
        let mut revision = Revision::new(
            "shop",
            "prod",
            "abc",
            Some("2026-12-01T10:00:00Z".parse().unwrap()),
            "2026-12-01T10:01:00Z".parse().unwrap(),
            false,
        );
        let now: DateTime<Utc> = "2026-12-01T10:05:00Z".parse().unwrap();
        assert_eq!(revision.unconverged_age(now), 240.0);
        assert_eq!(revision.seconds_from_commit, None);
        revision.converge("2026-12-01T10:03:30Z".parse().unwrap());
        assert_eq!(revision.seconds_from_commit, Some(210.0));
        assert_eq!(revision.seconds_from_first_seen, Some(150.0));
        assert_eq!(revision.unconverged_age(now), 0.0);
        // A committer clock ahead of ours: not a negative duration.
        revision.committed_at = Some("2026-12-01T11:00:00Z".parse().unwrap());
        revision.converge("2026-12-01T10:03:30Z".parse().unwrap());
        assert_eq!(revision.seconds_from_commit, Some(0.0));
    }
}
