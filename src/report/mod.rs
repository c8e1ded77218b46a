//! The scan report: an immutable, versioned record of one scan (`gitdrift.report/v1`), and the
//! formats it is written in. Formats render; they decide nothing.

pub mod age;
pub mod chart;
pub mod convergence;
pub mod csv;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod openreports;
pub mod sarif;
pub mod tally;
pub mod text;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::diff::Status;
use crate::judge::{ResourceReport, UnreadableKind};
use crate::model::{Format, Problem, Severity};

/// The schema identifier of the JSON report.
pub const SCHEMA: &str = "gitdrift.report/v1";

/// Everything one scan found.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScanReport {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// When, what and from where.
    pub scan: ScanMeta,
    /// Counts.
    pub summary: Summary,
    /// Every declared resource and every unmanaged one, ordered by target and identity. Shared
    /// (`serve`'s re-scans hand on the judgements of unchanged pairs without copying them).
    pub resources: Vec<Arc<ResourceReport>>,
    /// Errors, warnings and notes, each naming source or target, file and line where known.
    pub problems: Vec<Problem>,
    /// Ignore rules that matched no object in this scan.
    pub stale_ignore_rules: Vec<StaleRule>,
    /// Kinds that could not be read on a target (forbidden, failing): nothing is said about
    /// their objects.
    pub unreadable: Vec<UnreadableKind>,
    /// How much of each target's AWS estate git declares, per resource type and in all.
    pub coverage: Vec<Coverage>,
    /// Compliance rule violations, on both sides, failing or waived. Shared, as resources are.
    pub findings: Vec<Arc<crate::audit::findings::Finding>>,
    /// Rules run, findings per severity, framework controls, waivers.
    pub compliance: crate::audit::findings::Compliance,
    /// Scheduled reports: what changed since the previous report of the same schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trend: Option<Trend>,
    /// Scheduled reports: each source's revisions since the previous report of the same
    /// schedule (and any still converging), with how long each took to converge.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub convergence: Vec<convergence::Revision>,
}

/// What a later trend compares with: a report's scan id, time and items, kept apart from the
/// report itself so that retention deleting the scan does not lose it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrendBase {
    /// The report's scan id.
    pub scan: i64,
    /// When its scan started.
    pub at: DateTime<Utc>,
    /// Its items ([`Trend::items`]).
    pub items: std::collections::BTreeSet<String>,
}

/// How a scheduled report compares with the previous one of its schedule: the resources not in
/// sync and the failing findings that are new, resolved, or still open.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    /// The previous report's scan id (`null` for the first report).
    pub previous_scan: Option<i64>,
    /// When the previous report's scan started.
    pub previous_at: Option<DateTime<Utc>>,
    /// Items that are new.
    pub new: usize,
    /// Items that were there and are gone.
    pub resolved: usize,
    /// Items still there.
    pub open: usize,
    /// The new items (as [`Trend::items`] names them).
    pub new_items: Vec<String>,
    /// The resolved items.
    pub resolved_items: Vec<String>,
    /// The counts of the earlier scans of every target, oldest first, this one last: what the
    /// HTML report draws (empty where no history is kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<chart::Point>,
}

impl Trend {
    /// The items a trend counts: each resource not in sync and each failing finding.
    pub fn items(report: &ScanReport) -> std::collections::BTreeSet<String> {
        let mut items = std::collections::BTreeSet::new();
        for r in report
            .resources
            .iter()
            .filter(|r| r.status != Status::InSync)
        {
            items.insert(Self::resource_item(r));
        }
        for f in report
            .findings
            .iter()
            .filter(|f| f.status == crate::audit::findings::FindingStatus::Fail)
        {
            items.insert(Self::finding_item(f));
        }
        items
    }

    /// How a resource is named in a trend.
    pub fn resource_item(r: &ResourceReport) -> String {
        format!(
            "{} {}/{}/{}",
            r.status.as_str(),
            r.target,
            r.kind,
            resource_name(&r.namespace, &r.name)
        )
    }

    /// How a finding is named in a trend.
    pub fn finding_item(f: &crate::audit::findings::Finding) -> String {
        let r = &f.resource;
        format!(
            "finding {} ({}) {}/{}/{}",
            f.rule,
            f.side.as_str(),
            r.target,
            r.kind,
            resource_name(&r.namespace, &r.name)
        )
    }

    /// The trend from `previous` (`None` for a first report) to `current`.
    pub fn since(previous: Option<&TrendBase>, current: &ScanReport) -> Trend {
        let now = Self::items(current);
        let Some(previous) = previous else {
            return Trend {
                new: now.len(),
                new_items: now.into_iter().collect(),
                ..Trend::default()
            };
        };
        let before = &previous.items;
        let new_items: Vec<String> = now.difference(before).cloned().collect();
        let resolved_items: Vec<String> = before.difference(&now).cloned().collect();
        Trend {
            previous_scan: Some(previous.scan),
            previous_at: Some(previous.at),
            new: new_items.len(),
            resolved: resolved_items.len(),
            open: now.intersection(before).count(),
            new_items,
            resolved_items,
            history: Vec::new(),
        }
    }

    /// Whether an item is new in this trend.
    pub fn is_new(&self, item: &str) -> bool {
        self.new_items
            .binary_search_by(|i| i.as_str().cmp(item))
            .is_ok()
    }

    /// One line: `3 new, 1 resolved, 4 still open since scan 12 (2026-11-20 06:00 UTC)`.
    pub fn describe(&self) -> String {
        let since = match (self.previous_scan, self.previous_at) {
            (Some(id), Some(at)) => format!(
                " since the previous report (scan {id}, {})",
                at.format("%Y-%m-%d %H:%M UTC")
            ),
            _ => " (the first report of its schedule)".to_string(),
        };
        format!(
            "{} new, {} resolved, {} still open{since}",
            self.new, self.resolved, self.open
        )
    }
}

/// The share of a target's AWS resources that git manages: managed ÷ (managed + unmanaged +
/// missing), per resource type (and `all`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    /// Target name.
    pub target: String,
    /// AWS resource type, or `all`.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// Declared and live (in sync or drifted).
    pub managed: usize,
    /// Live, not declared.
    pub unmanaged: usize,
    /// Declared, not live.
    pub missing: usize,
    /// managed ÷ (managed + unmanaged + missing), in percent (100 when there is nothing).
    pub percent: f64,
}

impl Coverage {
    /// Coverage of the AWS resources among `resources`, per target and type, with a total row
    /// per target.
    pub fn of(resources: &[Arc<ResourceReport>]) -> Vec<Coverage> {
        use std::collections::BTreeMap;
        let mut counts: BTreeMap<(String, String), (usize, usize, usize)> = BTreeMap::new();
        for r in resources
            .iter()
            .filter(|r| r.api_version == crate::model::aws::API_VERSION)
        {
            for kind in [r.kind.clone(), "all".to_string()] {
                let entry = counts.entry((r.target.clone(), kind)).or_default();
                match r.status {
                    Status::InSync | Status::Drifted => entry.0 += 1,
                    Status::Unmanaged => entry.1 += 1,
                    Status::Missing => entry.2 += 1,
                }
            }
        }
        counts
            .into_iter()
            .map(|((target, resource_type), (managed, unmanaged, missing))| {
                let total = managed + unmanaged + missing;
                let percent = if total == 0 {
                    100.0
                } else {
                    (managed as f64 * 1000.0 / total as f64).round() / 10.0
                };
                Coverage {
                    target,
                    resource_type,
                    managed,
                    unmanaged,
                    missing,
                    percent,
                }
            })
            .collect()
    }
}

/// Scan metadata.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScanMeta {
    /// When the scan started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// The gitdrift version that ran it.
    pub gitdrift_version: String,
    /// The configuration file.
    pub config: String,
    /// Each source read, with the commit it was read at.
    pub sources: Vec<SourceMeta>,
    /// Each target read.
    pub targets: Vec<TargetMeta>,
}

/// A source as scanned.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SourceMeta {
    /// Source name.
    pub name: String,
    /// Repository (path, or URL without credentials).
    pub repo: String,
    /// The configured ref (`null`: the remote's HEAD).
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    /// The commit id read; `null` if the repository could not be read.
    pub commit: Option<String>,
    /// The commit's committer time (git sources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committed_at: Option<DateTime<Utc>>,
    /// The target it declares.
    pub target: String,
    /// Manifest files read.
    pub files: usize,
    /// Objects declared.
    pub objects: usize,
    /// The source could not be read now and an earlier revision was scanned (`serve`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stale: bool,
}

/// A target as scanned.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TargetMeta {
    /// Target name.
    pub name: String,
    /// How live state was read (`snapshot`).
    pub provider: String,
    /// Where from.
    pub location: String,
    /// When the live state was observed.
    pub observed_at: DateTime<Utc>,
    /// Live objects read.
    pub objects: usize,
    /// Live Kubernetes objects without `metadata.managedFields`, for which no drift can be
    /// attributed (snapshots from `kubectl get`, which hides them); absent for AWS targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub without_managed_fields: Option<usize>,
}

/// Counts of resources per status, and of problems.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Resources reported.
    pub resources: usize,
    /// In sync.
    pub in_sync: usize,
    /// Drifted.
    pub drifted: usize,
    /// Missing.
    pub missing: usize,
    /// Unmanaged.
    pub unmanaged: usize,
    /// Drifted fields over all resources.
    pub drifts: usize,
    /// Kinds that could not be read on some target.
    pub unreadable: usize,
    /// Error problems (the scan is incomplete when non-zero).
    pub errors: usize,
    /// Warning problems.
    pub warnings: usize,
    /// Resources per health (`healthy`, `progressing`, `degraded`, `suspended`, `unknown`,
    /// `missing`), for those whose health is judged.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub health: BTreeMap<String, usize>,
}

/// An ignore rule that matched nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaleRule {
    /// Configuration file.
    pub file: String,
    /// Line of the rule.
    pub line: u64,
    /// What the rule ignores.
    pub rule: String,
}

impl Summary {
    /// Counts a report's resources and problems.
    pub fn of(resources: &[Arc<ResourceReport>], problems: &[Problem]) -> Summary {
        let mut summary = Summary {
            resources: resources.len(),
            ..Summary::default()
        };
        for resource in resources {
            match resource.status {
                Status::InSync => summary.in_sync += 1,
                Status::Drifted => summary.drifted += 1,
                Status::Missing => summary.missing += 1,
                Status::Unmanaged => summary.unmanaged += 1,
            }
            summary.drifts += resource.drifts.len();
            if let Some(health) = &resource.health {
                *summary
                    .health
                    .entry(health.status.as_str().to_string())
                    .or_default() += 1;
            }
        }
        summary.errors = problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .count();
        summary.warnings = problems
            .iter()
            .filter(|p| p.severity == Severity::Warning)
            .count();
        summary
    }
}

impl ScanReport {
    /// The commit a source was read at in this scan (`None`: not read, or not in this scan).
    pub fn commit_of(&self, source: &str) -> Option<String> {
        self.scan
            .sources
            .iter()
            .find(|s| s.name == source)
            .and_then(|s| s.commit.clone())
    }

    /// The process exit code this report calls for: 2 when the scan had errors, 1 when anything
    /// is drifted, missing or unmanaged (or, with `fail_on_degraded`, a resource is degraded),
    /// 0 when all is in sync.
    pub fn exit_code(
        &self,
        fail_on: Option<crate::model::RuleSeverity>,
        fail_on_degraded: bool,
    ) -> u8 {
        if self.summary.errors > 0 {
            2
        } else if self.summary.drifted + self.summary.missing + self.summary.unmanaged > 0
            || self.compliance.fails_at(&self.findings, fail_on)
            || (fail_on_degraded && self.summary.health.get("degraded").is_some_and(|n| *n > 0))
        {
            1
        } else {
            0
        }
    }
}

/// Rendering choices that do not change content.
#[derive(Clone, Copy, Debug, Default)]
pub struct TextOptions {
    /// Also list resources that are in sync.
    pub show_in_sync: bool,
    /// Under each resource, list what was discounted and why (`scan --explain`); in-sync
    /// resources with discounts are listed too.
    pub explain: bool,
}

/// Renders a report in a format (text with ANSI styles; strip them where colour is unwanted).
pub fn render(report: &ScanReport, format: Format, options: TextOptions) -> String {
    match format {
        Format::Text => text::render(report, options),
        Format::Json => json::render(report),
        Format::Markdown => markdown::render(report),
        Format::Html => html::render(report),
        Format::Sarif => sarif::render(report),
        Format::Junit => junit::render(report),
        Format::Csv => csv::render(report),
        Format::Openreports => openreports::render(report),
    }
}

/// Renders a report for a file or an HTTP answer: as [`render`], without terminal styling
/// (only text carries any).
pub fn render_plain(report: &ScanReport, format: Format, options: TextOptions) -> String {
    let rendered = render(report, format, options);
    match format {
        Format::Text => anstream::adapter::strip_str(&rendered).to_string(),
        _ => rendered,
    }
}

pub use crate::model::resource_name;

/// The resources whose health needs a look (degraded, progressing, suspended), degraded first.
pub fn unwell(report: &ScanReport) -> Vec<&ResourceReport> {
    use crate::health::HealthStatus;
    let mut out: Vec<&ResourceReport> = report
        .resources
        .iter()
        .filter(|r| {
            r.health.as_ref().is_some_and(|h| {
                matches!(
                    h.status,
                    HealthStatus::Degraded | HealthStatus::Progressing | HealthStatus::Suspended
                )
            })
        })
        .map(AsRef::as_ref)
        .collect();
    out.sort_by_key(|r| r.health.as_ref().map(|h| h.status));
    out
}

/// `file:line` of a drifted field in git, where the scan located it.
pub fn drift_place(r: &crate::judge::ResourceReport, d: &crate::diff::Drift) -> Option<String> {
    Some(format!("{}:{}", r.source.as_ref()?.file, d.line?))
}

/// ` · drifting since …` for a drift the history dates before this scan (empty otherwise).
pub fn drifting_since(d: &crate::diff::Drift, started: DateTime<Utc>) -> String {
    match d.first_seen {
        Some(seen) if seen < started => format!(
            " · drifting since {} ({})",
            seen.format("%Y-%m-%dT%H:%M:%SZ"),
            age::human((started - seen).num_seconds())
        ),
        _ => String::new(),
    }
}

/// A drift value as reports show it: compact JSON, `(absent)` for null.
pub fn display_value(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "(absent)".to_string(),
        other => other.to_string(),
    }
}

/// One compliance finding as the HTML and Markdown reports list it: a rule's finding on one
/// resource, with one message and status, on git's side, the live side or both (JSON, SARIF,
/// JUnit and CSV keep one record per side).
#[derive(Debug)]
pub struct FindingRow<'a> {
    /// Git's side of it, if git's object fails the rule.
    pub desired: Option<&'a crate::audit::findings::Finding>,
    /// The live side, if the live object fails it.
    pub live: Option<&'a crate::audit::findings::Finding>,
}

impl<'a> FindingRow<'a> {
    /// A side of it (git's where both are).
    pub fn finding(&self) -> &'a crate::audit::findings::Finding {
        self.desired
            .or(self.live)
            .expect("a row has at least one side")
    }

    /// Whether only the live object fails, and git does not have it: weakened by hand.
    pub fn live_only(&self) -> bool {
        self.desired.is_none() && self.live.is_some_and(|f| f.live_only)
    }

    /// Where it fails, in words: `git and live`, `git only`, `live only`, or `live` (git
    /// declares the resource and fails the rule otherwise).
    pub fn sides(&self) -> &'static str {
        match (self.desired.is_some(), self.live.is_some()) {
            (true, true) => "git and live",
            (true, false) => "git only",
            _ if self.live_only() => "live only",
            _ => "live",
        }
    }
}

/// The findings a row each, by severity (highest first), the live-only ones (weakened by
/// hand) first within a severity, then by rule, resource and message.
pub fn finding_rows(findings: &[Arc<crate::audit::findings::Finding>]) -> Vec<FindingRow<'_>> {
    finding_rows_by(findings, true)
}

/// [`finding_rows`], the live-only rows first within a severity or not (the text report keeps
/// rule order).
pub fn finding_rows_by(
    findings: &[Arc<crate::audit::findings::Finding>],
    live_only_first: bool,
) -> Vec<FindingRow<'_>> {
    use crate::model::Side;
    let mut rows: BTreeMap<_, FindingRow<'_>> = BTreeMap::new();
    for f in findings {
        let row = rows
            .entry((
                std::cmp::Reverse(f.severity),
                f.rule.as_str(),
                &f.resource,
                f.message.as_str(),
                f.status,
            ))
            .or_insert(FindingRow {
                desired: None,
                live: None,
            });
        match f.side {
            Side::Desired => row.desired = Some(f),
            Side::Live => row.live = Some(f),
        }
    }
    let mut rows: Vec<_> = rows.into_iter().collect();
    if live_only_first {
        rows.sort_by_key(|(key, row)| (key.0, !row.live_only()));
    }
    rows.into_iter().map(|(_, row)| row).collect()
}

/// How many rows, and on which sides: `14 findings: 13 in git and live, 1 live only`.
pub fn finding_counts(rows: &[FindingRow<'_>]) -> String {
    let mut by: BTreeMap<&str, usize> = BTreeMap::new();
    for row in rows {
        *by.entry(row.sides()).or_default() += 1;
    }
    let parts: Vec<String> = ["git and live", "git only", "live only", "live"]
        .into_iter()
        .filter_map(|sides| {
            by.get(sides).map(|n| {
                let label = if sides == "git only" {
                    "in git only"
                } else if sides == "git and live" {
                    "in git and live"
                } else {
                    sides
                };
                format!("{n} {label}")
            })
        })
        .collect();
    let n = rows.len();
    format!(
        "{n} finding{}{}",
        if n == 1 { "" } else { "s" },
        if parts.is_empty() {
            String::new()
        } else {
            format!(": {}", parts.join(", "))
        }
    )
}

/// The HTML report's anchor of a resource's first row: `r-<target>-<kind>-<namespace>-<name>`,
/// for links to its drift from elsewhere (`serve`'s target page).
pub fn anchor(r: &ResourceReport) -> String {
    let id = format!(
        "r-{}-{}-{}-{}",
        r.target,
        r.kind,
        r.namespace.as_deref().unwrap_or("_"),
        r.name
    );
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
