//! Prometheus metrics: the current state of every target (gauges set from its latest scan), what
//! the service did (counters, a histogram), and every request sent to a watched environment
//! (`gitdrift_api_requests_total`, counted inside the read-only guards, so its `verb` label is
//! evidence that only reads were sent). Labels come from bounded sets only: targets, kinds,
//! statuses, rule ids, sources. The one exception, the per-resource gauge, is opt-in.
//!
//! One registry per [`Metrics`], built once and handed to what counts (the guards through
//! [`crate::live::Recorder`]); never a global, so tests can run several side by side.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Mutex;

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::diff::Status;
use crate::model::{Code, ResourceKey};
use crate::report::ScanReport;
use crate::report::tally::{Published, Tally};

/// The statuses `gitdrift_resources` always has a series for.
const STATUSES: [Status; 4] = [
    Status::InSync,
    Status::Drifted,
    Status::Missing,
    Status::Unmanaged,
];

/// The healths `gitdrift_resources_health` always has a series for, per kind.
const HEALTHS: [&str; 6] = [
    "healthy",
    "progressing",
    "degraded",
    "suspended",
    "unknown",
    "missing",
];

/// Every metric gitdrift exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    resources: IntGaugeVec,
    drifted_fields: IntGaugeVec,
    coverage: GaugeVec,
    findings: IntGaugeVec,
    findings_live_only: IntGaugeVec,
    controls: IntGaugeVec,
    waivers: IntGaugeVec,
    waiver_expiry: GaugeVec,
    resource: IntGaugeVec,
    scan_duration: HistogramVec,
    last_success: GaugeVec,
    last_scan: GaugeVec,
    scan_interval: GaugeVec,
    scan_errors: IntCounterVec,
    scans: IntCounterVec,
    source_revision: IntGaugeVec,
    source_stale: IntGaugeVec,
    source_last_fetch: GaugeVec,
    source_last_attempt: GaugeVec,
    source_fetches: IntCounterVec,
    api_requests: IntCounterVec,
    refused: IntCounterVec,
    webhooks: IntCounterVec,
    remediation: IntGaugeVec,
    build_info: IntGaugeVec,
    history_head: IntGaugeVec,
    /// The label sets each target's latest scan set, to remove before the next.
    series: Mutex<HashMap<String, Series>>,
    /// Each target's per-resource series (`serve.resource_metrics`), apart: a watched change
    /// sets or removes its own without going through the others.
    resource_series: Mutex<HashMap<String, HashMap<Vec<String>, usize>>>,
    /// Each target's waivers, combined into `gitdrift_waivers`.
    waiver_states: Mutex<BTreeMap<String, Vec<WaiverState>>>,
    revisions: Mutex<HashMap<String, String>>,
    drift_oldest_age: GaugeVec,
    drift_age_limit: GaugeVec,
    resources_health: IntGaugeVec,
    /// When each target's oldest drift was first seen, as of its latest scan (`None`: no drift
    /// or no history); its age is computed when the metrics are read.
    oldest_drift: Mutex<HashMap<String, Option<chrono::DateTime<chrono::Utc>>>>,
    convergence: HistogramVec,
    unconverged_age: GaugeVec,
    convergence_limit: GaugeVec,
    /// When each source's current revision was first seen, while it has not converged
    /// (`None` once it has); its age is computed when the metrics are read.
    unconverged: Mutex<HashMap<String, Option<chrono::DateTime<chrono::Utc>>>>,
}

/// The gauge series a target's scan set: family and label values.
type Series = HashSet<(Family, Vec<String>)>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Family {
    Resources,
    Health,
    DriftedFields,
    Coverage,
    Findings,
    FindingsLiveOnly,
    Controls,
    Resource,
}

#[derive(Clone, Debug)]
struct WaiverState {
    key: String,
    rule: String,
    status: String,
    expires: i64,
}

fn gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let vec = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(vec.clone()))
        .expect("unique metric");
    vec
}

fn float_gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> GaugeVec {
    let vec = GaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(vec.clone()))
        .expect("unique metric");
    vec
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let vec = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(vec.clone()))
        .expect("unique metric");
    vec
}

impl crate::live::Recorder for Metrics {
    fn request(&self, target: &str, provider: &str, verb: &str, code: &str) {
        self.api_requests
            .with_label_values(&[target, provider, verb, code])
            .inc();
    }

    fn refused(&self, target: &str, provider: &str) {
        self.refused.with_label_values(&[target, provider]).inc();
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    /// A registry with every metric registered: one per process (`serve` makes it at start and
    /// hands it to what counts), or one per test.
    pub fn new() -> Metrics {
        let r = Registry::new();
        let scan_duration = HistogramVec::new(
            HistogramOpts::new(
                "gitdrift_scan_duration_seconds",
                "How long a scan of a target took, from reading its live state to the stored report.",
            )
            .buckets(vec![
                0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
            ]),
            &["target"],
        )
        .expect("valid metric");
        r.register(Box::new(scan_duration.clone()))
            .expect("unique metric");
        let convergence = HistogramVec::new(
            HistogramOpts::new(
                "gitdrift_source_convergence_seconds",
                "How long a source's new revision took to converge (every resource it declares in sync and healthy): since its commit time (since=\"commit\") and since gitdrift first read it (since=\"first_seen\").",
            )
            .buckets(vec![
                15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0, 14400.0,
                43200.0, 86400.0,
            ]),
            &["source", "since"],
        )
        .expect("valid metric");
        r.register(Box::new(convergence.clone()))
            .expect("unique metric");
        let metrics = Metrics {
            resources: gauge(
                &r,
                "gitdrift_resources",
                "Resources of a target by kind and drift status (in_sync, drifted, missing, unmanaged), as of its latest scan.",
                &["target", "provider", "kind", "status"],
            ),
            drifted_fields: gauge(
                &r,
                "gitdrift_drifted_fields",
                "Fields that differ between git and the live state, summed over a kind's resources.",
                &["target", "kind"],
            ),
            coverage: float_gauge(
                &r,
                "gitdrift_coverage_ratio",
                "Share of a target's resources that git manages: managed / (managed + unmanaged + missing).",
                &["target", "provider"],
            ),
            findings: gauge(
                &r,
                "gitdrift_findings",
                "Failing compliance findings of a target, per side (desired or live), severity and rule, as of its latest scan.",
                &["target", "side", "severity", "rule"],
            ),
            findings_live_only: gauge(
                &r,
                "gitdrift_findings_live_only",
                "Failing live-side findings that git does not share (git declares the resource compliant, or not at all): controls weakened by hand, per severity and rule.",
                &["target", "severity", "rule"],
            ),
            controls: gauge(
                &r,
                "gitdrift_controls",
                "Framework controls checked on a target, by status (pass or fail).",
                &["target", "framework", "status"],
            ),
            waivers: gauge(
                &r,
                "gitdrift_waivers",
                "Compliance waivers by status: active, expired, or stale (matching no finding).",
                &["status"],
            ),
            waiver_expiry: float_gauge(
                &r,
                "gitdrift_waiver_expiry_timestamp_seconds",
                "When the soonest-expiring unexpired waiver of a rule ends (Unix time, end of its last day, UTC).",
                &["rule"],
            ),
            resource: gauge(
                &r,
                "gitdrift_resource_drift_status",
                "Opt-in (serve.resource_metrics), one series per resource not in sync: 1 for its status. High cardinality.",
                &["target", "kind", "namespace", "name", "status"],
            ),
            scan_duration,
            last_success: float_gauge(
                &r,
                "gitdrift_scan_last_success_timestamp_seconds",
                "When the last scan of a target without errors finished (Unix time).",
                &["target"],
            ),
            last_scan: float_gauge(
                &r,
                "gitdrift_scan_last_timestamp_seconds",
                "When the last scan of a target finished, with or without errors (Unix time).",
                &["target"],
            ),
            resources_health: gauge(
                &r,
                "gitdrift_resources_health",
                "Resources of a target by kind and health (healthy, progressing, degraded, suspended, unknown, missing), read from their live status, as of its latest scan.",
                &["target", "kind", "health"],
            ),
            drift_oldest_age: float_gauge(
                &r,
                "gitdrift_drift_oldest_age_seconds",
                "How long the oldest drift of a target has lasted: since the first scan in the history where that field drifted and it has drifted in every scan since (0 without drift).",
                &["target"],
            ),
            drift_age_limit: float_gauge(
                &r,
                "gitdrift_drift_age_limit_seconds",
                "serve.drift_age_limit: drift older than this fires GitdriftDriftTooOld.",
                &[],
            ),
            oldest_drift: Mutex::new(HashMap::new()),
            convergence,
            unconverged_age: float_gauge(
                &r,
                "gitdrift_source_unconverged_age_seconds",
                "How long a source has waited for its revisions to converge: since gitdrift first read the oldest revision after its last convergence (newer commits replacing an unconverged one do not reset it; 0 once converged).",
                &["source"],
            ),
            convergence_limit: float_gauge(
                &r,
                "gitdrift_source_convergence_limit_seconds",
                "serve.convergence_limit: a revision unconverged for longer fires GitdriftSourceNotConverged.",
                &[],
            ),
            unconverged: Mutex::new(HashMap::new()),
            scan_interval: float_gauge(
                &r,
                "gitdrift_scan_interval_seconds",
                "The configured time between scans of a target (alerts compare the last success with it).",
                &["target"],
            ),
            scan_errors: counter(
                &r,
                "gitdrift_scan_errors_total",
                "Errors met while scanning a target, by stage (the first part of the problem code: git, kube, aws, …).",
                &["target", "stage"],
            ),
            scans: counter(
                &r,
                "gitdrift_scans_total",
                "Scans of a target, by result (ok, error).",
                &["target", "result"],
            ),
            source_revision: gauge(
                &r,
                "gitdrift_source_revision_info",
                "The commit a git source is scanned at (always 1).",
                &["source", "revision"],
            ),
            source_stale: gauge(
                &r,
                "gitdrift_source_stale",
                "1 when a git source cannot be fetched or read and scans use its last good revision.",
                &["source"],
            ),
            source_last_fetch: float_gauge(
                &r,
                "gitdrift_source_last_fetch_timestamp_seconds",
                "When a git source was last fetched and read successfully (Unix time).",
                &["source"],
            ),
            source_last_attempt: float_gauge(
                &r,
                "gitdrift_source_last_attempt_timestamp_seconds",
                "When a git source was last fetched and read, successfully or not (Unix time).",
                &["source"],
            ),
            source_fetches: counter(
                &r,
                "gitdrift_source_fetches_total",
                "Fetches of a git source, by result (ok, error) and trigger (interval, webhook, startup).",
                &["source", "result", "trigger"],
            ),
            api_requests: counter(
                &r,
                "gitdrift_api_requests_total",
                "Requests sent to a watched environment, by target, provider, read verb and response code.",
                &["target", "provider", "verb", "code"],
            ),
            refused: counter(
                &r,
                "gitdrift_write_refusals_total",
                "Requests that would have written to a watched environment, refused before they were sent.",
                &["target", "provider"],
            ),
            webhooks: counter(
                &r,
                "gitdrift_webhook_requests_total",
                "Webhook requests, by result (accepted, ignored, unauthorized, bad_request, disabled, replayed).",
                &["result"],
            ),
            remediation: gauge(
                &r,
                "gitdrift_remediation_prs",
                "Remediation branches and pull requests by state (open, closed, left_alone, rate_limited, error), as of their last proposal.",
                &["state"],
            ),
            build_info: gauge(
                &r,
                "gitdrift_build_info",
                "The running gitdrift version (always 1).",
                &["version"],
            ),
            history_head: gauge(
                &r,
                "gitdrift_history_head_info",
                "The newest stored scan: its id, and its hash in the history's chain (one series; compare with `gitdrift verify --expect-head`).",
                &["sha256"],
            ),
            registry: r,
            series: Mutex::new(HashMap::new()),
            resource_series: Mutex::new(HashMap::new()),
            waiver_states: Mutex::new(BTreeMap::new()),
            revisions: Mutex::new(HashMap::new()),
        };
        metrics
            .build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        for result in [
            "accepted",
            "ignored",
            "unauthorized",
            "bad_request",
            "disabled",
            "replayed",
        ] {
            metrics.webhooks.with_label_values(&[result]).inc_by(0);
        }
        metrics
    }

    /// The metrics in the Prometheus text format.
    pub fn encode(&self) -> String {
        let now = chrono::Utc::now();
        for (target, seen) in self
            .oldest_drift
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let age = seen.map_or(0.0, |t| (now - t).num_milliseconds().max(0) as f64 / 1000.0);
            self.drift_oldest_age.with_label_values(&[target]).set(age);
        }
        for (source, since) in self
            .unconverged
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let age = since.map_or(0.0, |t| (now - t).num_milliseconds().max(0) as f64 / 1000.0);
            self.unconverged_age.with_label_values(&[source]).set(age);
        }
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    fn family(&self, family: Family) -> Option<&IntGaugeVec> {
        match family {
            Family::Resources => Some(&self.resources),
            Family::Health => Some(&self.resources_health),
            Family::DriftedFields => Some(&self.drifted_fields),
            Family::Findings => Some(&self.findings),
            Family::FindingsLiveOnly => Some(&self.findings_live_only),
            Family::Controls => Some(&self.controls),
            Family::Resource => Some(&self.resource),
            Family::Coverage => None,
        }
    }

    fn remove(&self, family: Family, labels: &[String]) {
        match self.family(family) {
            Some(vec) => {
                let _ = vec.remove_label_values(labels);
            }
            None => {
                let _ = self.coverage.remove_label_values(labels);
            }
        }
    }

    /// Sets a target's gauges from its latest scan, replacing what the previous scan set. A scan
    /// whose live read failed says nothing about the target's state: its resource, finding and
    /// coverage series stay as the last good scan left them (so that alerts on them keep their
    /// time; the scan-health alerts say the numbers are old). `counts` are the scan's counts
    /// patched since by watched changes, when there are any.
    pub fn publish(
        &self,
        target: &str,
        provider: &str,
        report: &ScanReport,
        per_resource: bool,
        counts: Option<&Tally>,
    ) {
        let live_failed = report.problems.iter().any(|p| {
            p.severity == crate::model::Severity::Error
                && p.target.as_deref() == Some(target)
                && p.file.is_none()
        }) && !report.resources.iter().any(|r| r.target == target);
        if live_failed {
            return;
        }
        match counts {
            Some(tally) => self.publish_counts(target, provider, tally, None),
            None => {
                let published = Published::of(report, target, per_resource);
                self.publish_counts(target, provider, published.tally(), None);
            }
        }
        self.oldest_drift
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                target.to_string(),
                crate::report::age::oldest(report).get(target).copied(),
            );

        let waivers = report
            .compliance
            .waivers
            .iter()
            .map(|w| WaiverState {
                key: format!("{}:{}", w.file, w.line),
                rule: w.rule.clone(),
                status: w.status.clone(),
                expires: w
                    .expires
                    .and_hms_opt(23, 59, 59)
                    .map(|t| t.and_utc().timestamp())
                    .unwrap_or(0),
            })
            .collect();
        self.waiver_states
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(target.to_string(), waivers);
        self.publish_waivers();
    }

    /// Sets a target's resource, finding, control and coverage gauges from its counts,
    /// replacing the series it had: after each scan, and after each watched change between
    /// scans. The per-resource series are set from the counts' resources not in sync, or, given
    /// `changes` (a watched change's), only those changed are: the time then depends on the
    /// number of kinds, rules and controls, not of resources.
    pub fn publish_counts(
        &self,
        target: &str,
        provider: &str,
        tally: &Tally,
        changes: Option<&[(ResourceKey, Status, bool)]>,
    ) {
        let mut set: Vec<(Family, Vec<String>, i64)> = Vec::new();
        for kind in tally.kinds() {
            for status in STATUSES {
                let n = tally
                    .resources
                    .get(&(kind.to_string(), status))
                    .copied()
                    .unwrap_or(0);
                set.push((
                    Family::Resources,
                    vec![
                        target.to_string(),
                        provider.to_string(),
                        kind.to_string(),
                        status.as_str().to_string(),
                    ],
                    n,
                ));
            }
            let n = tally.fields.get(kind).copied().unwrap_or(0);
            set.push((
                Family::DriftedFields,
                vec![target.to_string(), kind.to_string()],
                n,
            ));
        }
        // Every health of a kind is a series (0 included), as for drift statuses.
        let health_kinds: BTreeSet<&str> = tally.health.keys().map(|(k, _)| k.as_str()).collect();
        for kind in health_kinds {
            for health in HEALTHS {
                let n = tally
                    .health
                    .get(&(kind.to_string(), health))
                    .copied()
                    .unwrap_or(0);
                set.push((
                    Family::Health,
                    vec![target.to_string(), kind.to_string(), health.to_string()],
                    n,
                ));
            }
        }
        for ((severity, rule), n) in &tally.live_only {
            set.push((
                Family::FindingsLiveOnly,
                vec![
                    target.to_string(),
                    severity.as_str().to_string(),
                    rule.clone(),
                ],
                *n,
            ));
        }
        for ((side, severity, rule), n) in &tally.findings {
            set.push((
                Family::Findings,
                vec![
                    target.to_string(),
                    side.as_str().to_string(),
                    severity.as_str().to_string(),
                    rule.clone(),
                ],
                *n,
            ));
        }
        for (framework, (passing, failing)) in tally.frameworks() {
            for (status, n) in [("pass", passing), ("fail", failing)] {
                set.push((
                    Family::Controls,
                    vec![
                        target.to_string(),
                        framework.to_string(),
                        status.to_string(),
                    ],
                    n as i64,
                ));
            }
        }
        let resource_labels = |key: &ResourceKey, status: Status| {
            vec![
                target.to_string(),
                key.kind.clone(),
                key.namespace.clone().unwrap_or_default(),
                key.name.clone(),
                status.as_str().to_string(),
            ]
        };
        if changes.is_none() {
            for (key, status) in tally.out_of_sync.iter().flatten() {
                set.push((Family::Resource, resource_labels(key, *status), 1));
            }
        }
        let (managed, unmanaged, missing) = tally.coverage();
        let total = managed + unmanaged + missing;
        let ratio = if total == 0 {
            1.0
        } else {
            managed as f64 / total as f64
        };

        // Per-resource series apart: a watched change moves only its own. Counted, since
        // resources of two API groups that share a kind and name share a series.
        {
            let mut resources = self
                .resource_series
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let mine = resources.entry(target.to_string()).or_default();
            match changes {
                Some(changes) => {
                    for (key, status, added) in changes {
                        let labels = resource_labels(key, *status);
                        if *added {
                            self.resource.with_label_values(&labels).set(1);
                            *mine.entry(labels).or_insert(0) += 1;
                        } else if let Some(n) = mine.get_mut(&labels) {
                            *n -= 1;
                            if *n == 0 {
                                mine.remove(&labels);
                                let _ = self.resource.remove_label_values(&labels);
                            }
                        }
                    }
                }
                None => {
                    let mut now: HashMap<Vec<String>, usize> = HashMap::new();
                    for (family, labels, _) in &set {
                        if *family == Family::Resource {
                            *now.entry(labels.clone()).or_insert(0) += 1;
                        }
                    }
                    for labels in mine.keys().filter(|l| !now.contains_key(*l)) {
                        let _ = self.resource.remove_label_values(labels);
                    }
                    for labels in now.keys() {
                        self.resource.with_label_values(labels).set(1);
                    }
                    *mine = now;
                }
            }
        }
        set.retain(|(f, _, _)| *f != Family::Resource);
        let mut series = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let old = series.remove(target).unwrap_or_default();
        let mut new: Series = HashSet::with_capacity(set.len() + 1);
        for (family, labels, value) in set {
            if let Some(vec) = self.family(family) {
                vec.with_label_values(&labels).set(value);
            }
            new.insert((family, labels));
        }
        let coverage = vec![target.to_string(), provider.to_string()];
        self.coverage.with_label_values(&coverage).set(ratio);
        new.insert((Family::Coverage, coverage));
        for (family, labels) in old {
            if !new.contains(&(family, labels.clone())) {
                self.remove(family, &labels);
            }
        }
        series.insert(target.to_string(), new);
    }

    /// A waiver counts once, however many targets it applies to: active where it waived
    /// anything, otherwise expired, otherwise stale. `serve` scans one target at a time, so each
    /// scan calls a waiver that waived nothing there `unchecked`: matching nothing in any
    /// target's latest scan, it is stale.
    fn publish_waivers(&self) {
        let states = self.waiver_states.lock().unwrap_or_else(|e| e.into_inner());
        let mut combined: BTreeMap<&str, &WaiverState> = BTreeMap::new();
        let rank = |s: &str| match s {
            "active" => 0,
            "expired" => 1,
            _ => 2,
        };
        for w in states.values().flatten() {
            combined
                .entry(w.key.as_str())
                .and_modify(|seen| {
                    if rank(&w.status) < rank(&seen.status) {
                        *seen = w;
                    }
                })
                .or_insert(w);
        }
        let mut counts: BTreeMap<&str, i64> = [("active", 0), ("expired", 0), ("stale", 0)].into();
        let mut expiry: BTreeMap<&str, i64> = BTreeMap::new();
        for w in combined.values() {
            let status = match w.status.as_str() {
                "active" => "active",
                "expired" => "expired",
                _ => "stale",
            };
            *counts.entry(status).or_insert(0) += 1;
            // An expired waiver is counted as such; it must not hide a sibling about to expire.
            if status != "expired" {
                let soonest = expiry.entry(w.rule.as_str()).or_insert(w.expires);
                *soonest = (*soonest).min(w.expires);
            }
        }
        for (status, n) in counts {
            self.waivers.with_label_values(&[status]).set(n);
        }
        self.waiver_expiry.reset();
        for (rule, at) in expiry {
            self.waiver_expiry.with_label_values(&[rule]).set(at as f64);
        }
    }

    /// Removes every series of a target that left the configuration.
    pub fn forget_target(&self, target: &str) {
        let old = self
            .series
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(target)
            .unwrap_or_default();
        for (family, labels) in old {
            self.remove(family, &labels);
        }
        let resources = self
            .resource_series
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(target)
            .unwrap_or_default();
        for labels in resources.keys() {
            let _ = self.resource.remove_label_values(labels);
        }
        for vec in [&self.last_success, &self.last_scan, &self.scan_interval] {
            let _ = vec.remove_label_values(&[target]);
        }
        {
            // Under the lock `encode` sets the age series from: it cannot bring it back.
            let mut oldest = self.oldest_drift.lock().unwrap_or_else(|e| e.into_inner());
            oldest.remove(target);
            let _ = self.drift_oldest_age.remove_label_values(&[target]);
        }
        let _ = self.scan_duration.remove_label_values(&[target]);
        for provider in ["snapshot", "kubernetes", "aws"] {
            let _ = self.refused.remove_label_values(&[target, provider]);
        }
        for result in ["ok", "error"] {
            let _ = self.scans.remove_label_values(&[target, result]);
        }
        for stage in Code::stages() {
            let _ = self.scan_errors.remove_label_values(&[target, stage]);
        }
        self.waiver_states
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(target);
        self.publish_waivers();
    }

    /// Records a finished scan of a target.
    pub fn scan_finished(&self, target: &str, seconds: f64, errors: &[(&str, usize)]) {
        self.scan_duration
            .with_label_values(&[target])
            .observe(seconds);
        let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
        self.last_scan.with_label_values(&[target]).set(now);
        let failed: usize = errors.iter().map(|(_, n)| n).sum();
        for (stage, n) in errors {
            self.scan_errors
                .with_label_values(&[target, stage])
                .inc_by(*n as u64);
        }
        if failed == 0 {
            self.last_success.with_label_values(&[target]).set(now);
        }
        self.scans
            .with_label_values(&[target, if failed == 0 { "ok" } else { "error" }])
            .inc();
    }

    /// Records `serve.drift_age_limit`, which the drift-age alert compares with.
    pub fn drift_age_limit(&self, limit: std::time::Duration) {
        self.drift_age_limit
            .with_label_values::<&str>(&[])
            .set(limit.as_secs_f64());
    }

    /// Records `serve.convergence_limit`, which the convergence alert compares with.
    pub fn convergence_limit(&self, limit: std::time::Duration) {
        self.convergence_limit
            .with_label_values::<&str>(&[])
            .set(limit.as_secs_f64());
    }

    /// Records where a source stands: waiting to converge since `since` (the first sight of
    /// the oldest revision since its last convergence), or converged (`None`: its age is 0).
    pub fn revision_state(&self, source: &str, since: Option<chrono::DateTime<chrono::Utc>>) {
        self.unconverged
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(source.to_string(), since);
        // The histogram's series exist (empty) before the first convergence, as counters do.
        for since in ["commit", "first_seen"] {
            let _ = self.convergence.with_label_values(&[source, since]);
        }
    }

    /// Observes a revision's convergence: seconds since its commit (when git has a commit
    /// time) and since it was first read.
    pub fn converged(&self, source: &str, from_commit: Option<f64>, from_first_seen: f64) {
        if let Some(seconds) = from_commit {
            self.convergence
                .with_label_values(&[source, "commit"])
                .observe(seconds);
        }
        self.convergence
            .with_label_values(&[source, "first_seen"])
            .observe(from_first_seen);
    }

    /// Records a target's configured scan interval, and shows its refused writes as 0 (a
    /// series that exists, rather than one that is absent until something goes wrong).
    pub fn scan_interval(&self, target: &str, provider: &str, interval: std::time::Duration) {
        self.scan_interval
            .with_label_values(&[target])
            .set(interval.as_secs_f64());
        self.refused
            .with_label_values(&[target, provider])
            .inc_by(0);
        for stage in Code::stages() {
            self.scan_errors
                .with_label_values(&[target, stage])
                .inc_by(0);
        }
    }

    /// Counts an error of a stage outside a scan (storing its report, writing a report).
    pub fn stage_error(&self, target: &str, code: Code) {
        self.scan_errors
            .with_label_values(&[target, code.stage()])
            .inc();
    }

    /// Records a fetch of a source: the revision it is scanned at, and whether it is stale (not
    /// readable now, scanned at its last good revision).
    pub fn source_fetched(
        &self,
        source: &str,
        trigger: &str,
        revision: Option<&str>,
        ok: bool,
        stale: bool,
    ) {
        self.source_fetches
            .with_label_values(&[source, if ok { "ok" } else { "error" }, trigger])
            .inc();
        self.source_stale
            .with_label_values(&[source])
            .set(i64::from(stale));
        let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
        self.source_last_attempt
            .with_label_values(&[source])
            .set(now);
        if ok {
            self.source_last_fetch.with_label_values(&[source]).set(now);
        }
        if let Some(revision) = revision {
            let mut revisions = self.revisions.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(old) = revisions.insert(source.to_string(), revision.to_string())
                && old != revision
            {
                let _ = self.source_revision.remove_label_values(&[source, &old]);
            }
            self.source_revision
                .with_label_values(&[source, revision])
                .set(1);
        }
    }

    /// Removes the series of a source that left the configuration.
    pub fn forget_source(&self, source: &str) {
        if let Some(old) = self
            .revisions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(source)
        {
            let _ = self.source_revision.remove_label_values(&[source, &old]);
        }
        let _ = self.source_stale.remove_label_values(&[source]);
        {
            // Under the lock `encode` sets the age series from: it cannot bring it back.
            let mut unconverged = self.unconverged.lock().unwrap_or_else(|e| e.into_inner());
            unconverged.remove(source);
            let _ = self.unconverged_age.remove_label_values(&[source]);
        }
        for since in ["commit", "first_seen"] {
            let _ = self.convergence.remove_label_values(&[source, since]);
        }
        let _ = self.source_last_fetch.remove_label_values(&[source]);
        let _ = self.source_last_attempt.remove_label_values(&[source]);
    }

    /// Sets the history's head: the newest stored scan and its chain hash (one series). The
    /// value is the scan id.
    pub fn history_head(&self, id: i64, sha256: &str) {
        self.history_head.reset();
        self.history_head.with_label_values(&[sha256]).set(id);
    }

    /// Sets the remediation gauge from the states of every branch.
    pub fn remediation_states(&self, states: &[&str]) {
        for state in ["open", "closed", "left_alone", "rate_limited", "error"] {
            let n = states.iter().filter(|s| **s == state).count() as i64;
            self.remediation.with_label_values(&[state]).set(n);
        }
    }

    /// Counts a webhook request by result.
    pub fn webhook(&self, result: &str) {
        self.webhooks.with_label_values(&[result]).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(target: &str, resources: serde_json::Value) -> ScanReport {
        serde_json::from_value(json!({
            "schema": crate::report::SCHEMA,
            "scan": {"started_at": "2026-01-01T01:00:00Z", "finished_at": "2026-01-01T01:00:01Z",
                     "gitdrift_version": "0.1.0", "config": "gitdrift.yaml", "sources": [],
                     "targets": []},
            "summary": {"resources": 0, "in_sync": 0, "drifted": 0, "missing": 0, "unmanaged": 0,
                        "drifts": 0, "unreadable": 0, "errors": 0, "warnings": 0},
            "resources": resources.as_array().unwrap().iter().map(|r| {
                let mut r = r.clone();
                r["target"] = json!(target);
                r["apiVersion"] = json!("v1");
                r["namespace"] = json!("shop");
                r["source"] = json!(null);
                r["drifts"] = json!([]);
                r
            }).collect::<Vec<_>>(),
            "problems": [], "stale_ignore_rules": [], "unreadable": [],
            "coverage": [], "findings": [],
            "compliance": {"rules": [], "failing": {}, "waived": 0, "frameworks": [], "waivers": []}
        }))
        .unwrap()
    }

    #[test]
    fn a_scan_replaces_the_series_of_the_previous_one() {
        let m = Metrics::new();
        let first = report(
            "t1",
            json!([
                {"kind": "ConfigMap", "name": "a", "status": "drifted"},
                {"kind": "Secret", "name": "b", "status": "unmanaged"},
            ]),
        );
        m.publish("t1", "snapshot", &first, true, None);
        let text = m.encode();
        assert!(text.contains(
            r#"gitdrift_resources{kind="ConfigMap",provider="snapshot",status="drifted",target="t1"} 1"#
        ));
        assert!(text.contains(
            r#"gitdrift_resources{kind="ConfigMap",provider="snapshot",status="in_sync",target="t1"} 0"#
        ));
        assert!(text.contains(r#"gitdrift_resource_drift_status{kind="Secret",name="b",namespace="shop",status="unmanaged",target="t1"} 1"#));
        assert!(text.contains(r#"gitdrift_coverage_ratio{provider="snapshot",target="t1"} 0.5"#));

        // The Secret is gone and the ConfigMap back in sync.
        let second = report(
            "t1",
            json!([{"kind": "ConfigMap", "name": "a", "status": "in_sync"}]),
        );
        m.publish("t1", "snapshot", &second, true, None);
        let text = m.encode();
        assert!(!text.contains(r#"kind="Secret""#), "{text}");
        assert!(!text.contains("gitdrift_resource_drift_status{"), "{text}");
        assert!(text.contains(
            r#"gitdrift_resources{kind="ConfigMap",provider="snapshot",status="drifted",target="t1"} 0"#
        ));
        assert!(text.contains(r#"gitdrift_coverage_ratio{provider="snapshot",target="t1"} 1"#));

        // Another target's series are its own.
        m.publish("t2", "snapshot", &first, false, None);
        m.forget_target("t1");
        let text = m.encode();
        assert!(!text.contains(r#"target="t1""#), "{text}");
        assert!(text.contains(r#"target="t2""#));
        assert!(
            !text.contains("gitdrift_resource_drift_status{"),
            "opt-in per target scan"
        );
    }
}
