//! The scan report: an immutable, versioned record of one scan (`gitdrift.report/v1`), and the
//! formats it is written in. Formats render; they decide nothing.

pub mod csv;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod sarif;
pub mod text;

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::diff::{Drift, Status};
use crate::model::{Problem, Severity};

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
    /// Every declared resource and every unmanaged one, ordered by target and identity.
    pub resources: Vec<ResourceReport>,
    /// Errors, warnings and notes, each naming source or target, file and line where known.
    pub problems: Vec<Problem>,
    /// Ignore rules that matched no object in this scan.
    pub stale_ignore_rules: Vec<StaleRule>,
    /// Kinds that could not be read on a target (forbidden, failing): nothing is said about
    /// their objects.
    pub unreadable: Vec<UnreadableKind>,
    /// How much of each target's AWS estate git declares, per resource type and in all.
    pub coverage: Vec<Coverage>,
    /// Compliance rule violations, on both sides, failing or waived.
    pub findings: Vec<crate::audit::findings::Finding>,
    /// Rules run, findings per severity, framework controls, waivers.
    pub compliance: crate::audit::findings::Compliance,
    /// Scheduled reports: what changed since the previous report of the same schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trend: Option<Trend>,
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
    pub fn of(resources: &[ResourceReport]) -> Vec<Coverage> {
        use std::collections::BTreeMap;
        let mut counts: BTreeMap<(String, String), (usize, usize, usize)> = BTreeMap::new();
        for r in resources
            .iter()
            .filter(|r| r.api_version == crate::aws::API_VERSION)
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

/// A kind a target's live state could not be read for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnreadableKind {
    /// Target name.
    pub target: String,
    /// API group (`""` for the core group).
    pub group: String,
    /// Kind.
    pub kind: String,
    /// `forbidden` or `error`.
    pub reason: String,
    /// The server's message.
    pub message: String,
    /// Declared resources of this kind left unjudged.
    pub declared: usize,
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
}

/// One resource's judgement.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ResourceReport {
    /// Target name.
    pub target: String,
    /// `apiVersion`, as declared (as live, for unmanaged resources).
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// Namespace; `null` for cluster-scoped resources.
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// The judgement.
    pub status: Status,
    /// Where git declares it; `null` for unmanaged resources.
    pub source: Option<SourceRef>,
    /// Why, where the status needs a reason (`kind not served by the cluster`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Fields that differ (empty unless drifted).
    pub drifts: Vec<Drift>,
    /// The manager behind the most recent of the drifts, where managedFields tell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_changed_by: Option<String>,
    /// When that manager wrote.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_changed_at: Option<String>,
}

/// Where a resource is declared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRef {
    /// The configured source's name.
    pub name: String,
    /// File, relative to the repository root (for rendered objects: the file the renderer names).
    pub file: String,
    /// 1-based line where the object starts; `null` where the renderer does not tell.
    pub line: Option<u64>,
    /// For objects produced by Kustomize or Helm: the tool and the kustomization or chart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rendered: Option<crate::model::Rendered>,
}

impl SourceRef {
    /// `file:line`, or the file alone where the line is not known.
    pub fn place(&self) -> String {
        match self.line {
            Some(line) => format!("{}:{line}", self.file),
            None => self.file.clone(),
        }
    }
}

/// Where an optional declaration is, as `file:line` (empty when there is none).
pub fn place(source: &Option<SourceRef>) -> String {
    source.as_ref().map(SourceRef::place).unwrap_or_default()
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
    pub fn of(resources: &[ResourceReport], problems: &[Problem]) -> Summary {
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
    /// is drifted, missing or unmanaged, 0 when all is in sync.
    pub fn exit_code(&self, fail_on: Option<crate::audit::RuleSeverity>) -> u8 {
        if self.summary.errors > 0 {
            2
        } else if self.summary.drifted + self.summary.missing + self.summary.unmanaged > 0
            || self.compliance.fails_at(&self.findings, fail_on)
        {
            1
        } else {
            0
        }
    }
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Readable per-resource diff.
    Text,
    /// The `gitdrift.report/v1` JSON document.
    Json,
    /// Markdown, for a pull-request comment or an issue.
    Markdown,
    /// One self-contained HTML page.
    Html,
    /// SARIF 2.1.0, for code scanning.
    Sarif,
    /// JUnit XML, for CI dashboards.
    Junit,
    /// CSV, one row per drift or finding.
    Csv,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 7] = [
        Format::Text,
        Format::Json,
        Format::Markdown,
        Format::Html,
        Format::Sarif,
        Format::Junit,
        Format::Csv,
    ];

    /// The name used on the command line and in the API.
    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Markdown => "markdown",
            Format::Html => "html",
            Format::Sarif => "sarif",
            Format::Junit => "junit",
            Format::Csv => "csv",
        }
    }

    /// The media type served.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; charset=utf-8",
            Format::Json => "application/json",
            Format::Markdown => "text/markdown; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
            Format::Sarif => "application/sarif+json",
            Format::Junit => "application/xml",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }

    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Text => "txt",
            Format::Json => "json",
            Format::Markdown => "md",
            Format::Html => "html",
            Format::Sarif => "sarif",
            Format::Junit => "xml",
            Format::Csv => "csv",
        }
    }
}

/// Rendering choices that do not change content.
#[derive(Clone, Copy, Debug, Default)]
pub struct TextOptions {
    /// Also list resources that are in sync.
    pub show_in_sync: bool,
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
    }
}

/// Writes a rendered report to a file atomically: a temporary file in the same folder, renamed
/// over the target, so a reader never sees half a report. A target that exists and is not a
/// regular file (`/dev/null`, a pipe) is written to directly: renaming over it would replace it.
pub fn write_atomically(path: &Path, content: &str) -> std::io::Result<()> {
    write_atomically_with(path, |out| out.write_all(content.as_bytes()))
}

/// Like [`write_atomically`], with the content written by `write` (a report serialized straight
/// to the file, never held whole in memory).
pub fn write_atomically_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    if let Ok(meta) = std::fs::metadata(path)
        && !meta.is_file()
        && !meta.is_dir()
    {
        let target = std::fs::OpenOptions::new().write(true).open(path)?;
        let mut out = std::io::BufWriter::new(target);
        write(&mut out)?;
        return out.flush();
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file = tempfile::NamedTempFile::new_in(dir)?;
    // Temporary files are private (0600); a report is an ordinary file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    let mut out = std::io::BufWriter::new(file);
    write(&mut out)?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// `namespace/name`, or the name alone for cluster-scoped resources.
pub fn resource_name(namespace: &Option<String>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    }
}

/// A drift value as reports show it: compact JSON, `(absent)` for null.
pub fn display_value(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "(absent)".to_string(),
        other => other.to_string(),
    }
}
