//! The readable report: per resource, its status and, for drift, each field with the git value,
//! the live value and who changed it; problems and stale ignore rules; a summary line. Styled
//! with ANSI codes that the caller strips when colour is off (not a terminal, `NO_COLOR`).

use std::fmt::Write;

use anstyle::{AnsiColor, Style};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{ScanReport, TextOptions};
use crate::diff::Status;
use crate::judge::ResourceReport;
use crate::model::Severity;

const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();
const RED: Style = AnsiColor::Red.on_default();
const GREEN: Style = AnsiColor::Green.on_default();
const YELLOW: Style = AnsiColor::Yellow.on_default();
const CYAN: Style = AnsiColor::Cyan.on_default();
const MAX_VALUE: usize = 160;

fn paint(style: Style, text: &str) -> String {
    format!("{style}{text}{style:#}")
}

/// Renders the report as text.
pub fn render(report: &ScanReport, options: TextOptions) -> String {
    let mut out = String::new();
    let scan = &report.scan;
    let _ = writeln!(
        out,
        "{} {}",
        paint(BOLD, "gitdrift scan"),
        paint(
            DIM,
            &scan.started_at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
        )
    );
    for source in &scan.sources {
        let commit = source
            .commit
            .as_deref()
            .map_or("unreadable".to_string(), |c| c.chars().take(12).collect());
        let _ = writeln!(
            out,
            "  source {}: {} @ {} ({}) · {} objects in {} file{} → target {}",
            source.name,
            source.repo,
            commit,
            source.git_ref.as_deref().unwrap_or("HEAD"),
            source.objects,
            source.files,
            if source.files == 1 { "" } else { "s" },
            source.target
        );
    }
    for target in &scan.targets {
        let _ = writeln!(
            out,
            "  target {}: {} {} · {} objects",
            target.name, target.provider, target.location, target.objects
        );
        if let Some(without) = target.without_managed_fields.filter(|n| *n > 0) {
            let _ = writeln!(
                out,
                "    {} {without} of them carry no managedFields: who changed what cannot be said for them (`kubectl get` hides them: snapshot with `--show-managed-fields` or `gitdrift snapshot`)",
                paint(DIM, "note:")
            );
        }
    }
    let shown = |resource: &ResourceReport| {
        let explained =
            options.explain && (!resource.discounted.is_empty() || resource.discounted_more > 0);
        resource.status != Status::InSync || options.show_in_sync || explained || unwell(resource)
    };
    // The identity column as wide as its longest entry (AWS types are long), within reason.
    let width = column_width(
        report
            .resources
            .iter()
            .filter(|r| shown(r))
            .map(|r| identity(&r.kind, &r.namespace, &r.name)),
    );
    let mut current_target: Option<&str> = None;
    for resource in &report.resources {
        if !shown(resource) {
            continue;
        }
        if current_target != Some(resource.target.as_str()) {
            current_target = Some(&resource.target);
            let _ = writeln!(
                out,
                "\n{}",
                paint(BOLD, &format!("target {}", resource.target))
            );
        }
        resource_block(&mut out, resource, report.scan.started_at, width);
        if options.explain {
            discounted_block(&mut out, resource);
        }
    }
    health_block(&mut out, report);
    convergence_block(&mut out, report);
    findings_block(&mut out, report);
    if !report.problems.is_empty() {
        let _ = writeln!(out, "\n{}", paint(BOLD, "problems"));
        for problem in &report.problems {
            let style = match problem.severity {
                Severity::Error => RED,
                Severity::Warning => YELLOW,
                Severity::Note => DIM,
            };
            let _ = writeln!(out, "  {}", paint(style, &problem.to_string()));
        }
    }
    if !report.coverage.is_empty() {
        let _ = writeln!(
            out,
            "\n{}",
            paint(
                BOLD,
                "AWS coverage (managed ÷ managed + unmanaged + missing)"
            )
        );
        for c in &report.coverage {
            let _ = writeln!(
                out,
                "  {} {:<34} {:>5.1}%  {} managed, {} unmanaged, {} missing",
                c.target, c.resource_type, c.percent, c.managed, c.unmanaged, c.missing
            );
        }
    }
    if !report.stale_ignore_rules.is_empty() {
        let _ = writeln!(
            out,
            "\n{}",
            paint(BOLD, "ignore rules that matched nothing")
        );
        for rule in &report.stale_ignore_rules {
            let _ = writeln!(out, "  {}:{}: {}", rule.file, rule.line, rule.rule);
        }
    }
    let s = &report.summary;
    let mut line = format!(
        "{} resources: {} in sync, {} drifted, {} missing, {} unmanaged · {} drifted field{}",
        s.resources,
        s.in_sync,
        s.drifted,
        s.missing,
        s.unmanaged,
        s.drifts,
        if s.drifts == 1 { "" } else { "s" }
    );
    let _ = write!(
        line,
        " · {} error{}",
        s.errors,
        if s.errors == 1 { "" } else { "s" }
    );
    if s.warnings > 0 {
        let _ = write!(
            line,
            ", {} warning{}",
            s.warnings,
            if s.warnings == 1 { "" } else { "s" }
        );
    }
    let style = if s.errors > 0 {
        RED
    } else if s.drifted + s.missing + s.unmanaged > 0 {
        YELLOW
    } else {
        GREEN
    };
    let _ = writeln!(out, "\n{}", paint(style.bold(), &line));
    out
}

/// How the text report names a resource: `Kind namespace/name`, `Kind name` without a
/// namespace, and an AWS account setting (named by its region, in its region) `Kind region`.
fn identity(kind: &str, namespace: &Option<String>, name: &str) -> String {
    match namespace {
        Some(ns) if !(kind.starts_with("AWS::") && ns == name) => format!("{kind} {ns}/{name}"),
        _ => format!("{kind} {name}"),
    }
}

/// A column as wide as its widest entry: at least 40 characters, at most 80.
fn column_width(entries: impl Iterator<Item = String>) -> usize {
    entries
        .map(|e| e.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(40, 80)
}

fn resource_block(
    out: &mut String,
    resource: &ResourceReport,
    started: DateTime<Utc>,
    width: usize,
) {
    let (mark, word, style) = match resource.status {
        Status::InSync => ("=", "in sync", GREEN),
        Status::Drifted => ("~", "drifted", YELLOW),
        Status::Missing => ("-", "missing", RED),
        Status::Unmanaged => ("+", "unmanaged", CYAN),
    };
    let identity = identity(&resource.kind, &resource.namespace, &resource.name);
    let location = resource
        .source
        .as_ref()
        .map(|s| {
            let at = match s.line {
                Some(line) => format!("{}:{line}", s.file),
                None => s.file.clone(),
            };
            let via = s
                .rendered
                .as_ref()
                .map(|r| format!(" (via {} {})", r.tool, r.path))
                .unwrap_or_default();
            format!("  {}", paint(DIM, &format!("{at}{via}")))
        })
        .unwrap_or_default();
    let line = format!(
        "  {} {:<width$}{}",
        paint(style, &format!("{mark} {word:<10}")),
        identity,
        location
    );
    let _ = writeln!(out, "{}", line.trim_end());
    if let Some(health) = resource.health.as_ref().filter(|_| unwell(resource)) {
        let _ = writeln!(
            out,
            "      {} {}",
            paint(
                health_style(health.status),
                &format!("{}:", health.status.as_str())
            ),
            health.reason
        );
    }
    for drift in &resource.drifts {
        let at = match (&resource.source, drift.line) {
            (Some(source), Some(line)) => {
                format!("  {}", paint(DIM, &format!("{}:{line}", source.file)))
            }
            _ => String::new(),
        };
        let since = match drift.first_seen {
            Some(seen) if seen < started => format!(
                "  {}",
                paint(
                    YELLOW,
                    &format!(
                        "drifting for {} (since {})",
                        super::age::human((started - seen).num_seconds()),
                        seen.format("%Y-%m-%dT%H:%M:%SZ")
                    )
                )
            ),
            _ => String::new(),
        };
        let _ = writeln!(out, "      {}{at}{since}", paint(BOLD, &drift.path));
        let why = match drift.reason {
            crate::diff::Reason::RemovedFromGit => {
                format!(
                    "  {}",
                    paint(DIM, "← removed from git; the last apply set it")
                )
            }
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "        {} {}{}",
            paint(RED, "git: "),
            value(&drift.desired),
            why
        );
        let by = match (&drift.changed_by, &drift.changed_at) {
            (Some(who), Some(when)) => {
                format!("  {}", paint(DIM, &format!("← set by {who} at {when}")))
            }
            (Some(who), None) => format!("  {}", paint(DIM, &format!("← set by {who}"))),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "        {} {}{}",
            paint(GREEN, "live:"),
            value(&drift.live),
            by
        );
    }
}

/// Whether a resource's health needs a look: degraded, progressing or suspended (missing is
/// already its drift status).
fn unwell(resource: &ResourceReport) -> bool {
    use crate::health::HealthStatus;
    resource.health.as_ref().is_some_and(|h| {
        matches!(
            h.status,
            HealthStatus::Degraded | HealthStatus::Progressing | HealthStatus::Suspended
        )
    })
}

fn health_style(status: crate::health::HealthStatus) -> Style {
    use crate::health::HealthStatus;
    match status {
        HealthStatus::Degraded | HealthStatus::Missing => RED,
        HealthStatus::Progressing | HealthStatus::Suspended => YELLOW,
        HealthStatus::Unknown => DIM,
        HealthStatus::Healthy => GREEN,
    }
}

/// Scheduled reports: each revision of the period and how it reached the live state.
fn convergence_block(out: &mut String, report: &ScanReport) {
    if report.convergence.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n{}",
        paint(BOLD, "convergence (commit to in sync and healthy)")
    );
    for r in &report.convergence {
        let row = super::convergence::Row::of(r);
        let style = if r.converged_at.is_some() {
            GREEN
        } else {
            YELLOW
        };
        let _ = writeln!(
            out,
            "  {:<32} committed {}  read {}\n    {}",
            row.revision,
            row.committed,
            row.first_seen,
            paint(style, &row.outcome)
        );
    }
}

/// Deployment status over every target: counts, then each resource that is not healthy,
/// degraded first.
fn health_block(out: &mut String, report: &ScanReport) {
    let counts = &report.summary.health;
    if counts.is_empty() {
        return;
    }
    let order = [
        "degraded",
        "progressing",
        "suspended",
        "unknown",
        "missing",
        "healthy",
    ];
    let said: Vec<String> = order
        .iter()
        .filter_map(|h| counts.get(*h).map(|n| format!("{n} {h}")))
        .collect();
    let _ = writeln!(
        out,
        "\n{}",
        paint(BOLD, &format!("health: {}", said.join(", ")))
    );
    let mut unwell: Vec<&ResourceReport> = report
        .resources
        .iter()
        .filter(|r| unwell(r))
        .map(AsRef::as_ref)
        .collect();
    unwell.sort_by_key(|r| r.health.as_ref().map(|h| h.status));
    let width = column_width(
        unwell
            .iter()
            .map(|r| identity(&r.kind, &r.namespace, &r.name)),
    );
    for r in unwell {
        let Some(health) = &r.health else { continue };
        let identity = identity(&r.kind, &r.namespace, &r.name);
        let _ = writeln!(
            out,
            "  {} {:<width$} {}  {}",
            paint(
                health_style(health.status),
                &format!("{:<11}", health.status.as_str())
            ),
            identity,
            paint(DIM, &r.target),
            health.reason
        );
    }
}

/// What the judgement discounted on one resource, and why.
fn discounted_block(out: &mut String, resource: &ResourceReport) {
    if resource.discounted.is_empty() {
        return;
    }
    let _ = writeln!(out, "      {}", paint(DIM, "not drift:"));
    for d in &resource.discounted {
        let detail = if d.detail.is_empty() {
            String::new()
        } else {
            format!(" ({})", d.detail)
        };
        let _ = writeln!(
            out,
            "        {} {}{}",
            d.path,
            paint(CYAN, d.reason.as_str()),
            paint(DIM, &detail)
        );
    }
    if resource.discounted_more > 0 {
        let _ = writeln!(
            out,
            "        {}",
            paint(DIM, &format!("… and {} more", resource.discounted_more))
        );
    }
}

/// Whether a resource is the one `--explain RESOURCE` names: `KIND/NAME` or
/// `KIND/NAMESPACE/NAME` (the kind in any case), optionally after `TARGET:`.
pub fn names(resource: &ResourceReport, wanted: &str) -> bool {
    // `TARGET:` only before the first `/`: names may hold colons (`system:controller:job`).
    let (target, rest) = match wanted.split_once(':') {
        Some((t, rest)) if !t.contains('/') => (Some(t), rest),
        _ => (None, wanted),
    };
    if target.is_some_and(|t| t != resource.target) {
        return false;
    }
    let parts: Vec<&str> = rest.split('/').collect();
    let (kind, namespace, name) = match parts.as_slice() {
        [kind, name] => (*kind, None, *name),
        [kind, namespace, name] => (*kind, Some(*namespace), *name),
        _ => return false,
    };
    resource.kind.eq_ignore_ascii_case(kind)
        && resource.name == name
        && namespace.is_none_or(|ns| resource.namespace.as_deref() == Some(ns))
}

/// One resource's full reasoning (`scan --explain RESOURCE`): its verdict, each drift with its
/// reason and author, everything discounted and why, and its compliance findings. `None` when
/// nothing matches.
pub fn explain(report: &ScanReport, wanted: &str) -> Option<String> {
    let mut out = String::new();
    for resource in report.resources.iter().filter(|r| names(r, wanted)) {
        let _ = writeln!(
            out,
            "{}",
            paint(BOLD, &format!("target {}", resource.target))
        );
        resource_block(&mut out, resource, report.scan.started_at, 40);
        if let Some(reason) = &resource.reason {
            let _ = writeln!(out, "      {}", paint(DIM, reason));
        }
        if resource.discounted.is_empty() && resource.drifts.is_empty() {
            let _ = writeln!(
                out,
                "      {}",
                paint(DIM, "git and live are the same, field for field")
            );
        }
        discounted_block(&mut out, resource);
        let findings: Vec<_> = report
            .findings
            .iter()
            .filter(|f| {
                f.resource.target == resource.target
                    && f.resource.kind == resource.kind
                    && f.resource.namespace == resource.namespace
                    && f.resource.name == resource.name
            })
            .collect();
        if !findings.is_empty() {
            let _ = writeln!(out, "      {}", paint(DIM, "compliance:"));
            for f in findings {
                let _ = writeln!(
                    out,
                    "        {} {} [{}] {}",
                    paint(RED, f.severity.as_str()),
                    f.rule,
                    f.side.as_str(),
                    f.message
                );
            }
        }
        out.push('\n');
    }
    (!out.is_empty()).then_some(out)
}

fn value(value: &Value) -> String {
    if value.is_null() {
        return "(absent)".to_string();
    }
    let text = value.to_string();
    if text.chars().count() > MAX_VALUE {
        let cut: String = text.chars().take(MAX_VALUE).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// Compliance findings, by severity; a rule's finding on one resource is one entry whether git,
/// the live resource or both break it.
fn findings_block(out: &mut String, report: &ScanReport) {
    use crate::audit::findings::{Finding, FindingStatus};

    let c = &report.compliance;
    if c.rules.is_empty() {
        return;
    }
    let failing: usize = c.failing.values().sum();
    let by_severity = c.failing_by_severity();
    let _ = writeln!(
        out,
        "\n{}",
        paint(
            BOLD,
            &format!(
                "compliance: {} rules applied · {failing} failing{}{}",
                c.rules.len(),
                if by_severity.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", by_severity.join(", "))
                },
                if c.waived > 0 {
                    format!(", {} waived", c.waived)
                } else {
                    String::new()
                }
            )
        )
    );
    // A row per rule, resource, message and status, git's side and the live one merged.
    let mut current = None;
    for row in super::finding_rows_by(&report.findings, false) {
        let f = row.finding();
        let (severity, rule, resource, message, status) =
            (f.severity, &f.rule, &f.resource, &f.message, f.status);
        if current != Some(severity) {
            current = Some(severity);
            let style = match severity {
                crate::model::RuleSeverity::Critical | crate::model::RuleSeverity::High => RED,
                crate::model::RuleSeverity::Medium => YELLOW,
                _ => DIM,
            };
            let _ = writeln!(out, "  {}", paint(style, severity.as_str()));
        }
        let where_ = match (row.desired, row.live) {
            (Some(_), Some(_)) => "git and live",
            (Some(_), None) => "git",
            (None, Some(f)) if f.live_only => "live only: not in git",
            _ => "live",
        };
        let sides: Vec<&Finding> = row.desired.into_iter().chain(row.live).collect();
        let place = sides
            .iter()
            .find_map(|f| f.source.as_ref())
            .map(|s| match s.line {
                Some(line) => format!("  {}:{line}", s.file),
                None => format!("  {}", s.file),
            })
            .unwrap_or_default();
        let name = identity(&resource.kind, &resource.namespace, &resource.name);
        let mark = match status {
            FindingStatus::Fail => paint(RED, "✗"),
            FindingStatus::Waived => paint(DIM, "~ waived"),
        };
        let _ = writeln!(
            out,
            "    {mark} {rule}  {name} [{}] ({where_}){}",
            resource.target,
            paint(DIM, &place)
        );
        let _ = writeln!(out, "        {message}");
        if let Some(w) = sides.iter().find_map(|f| f.waiver.as_ref()) {
            let _ = writeln!(
                out,
                "        {}",
                paint(
                    DIM,
                    &format!("waived until {}: {}", w.expires, w.justification)
                )
            );
        }
    }
    let frameworks: Vec<String> = c
        .frameworks
        .iter()
        .map(|f| {
            format!(
                "{} {} passing, {} failing",
                f.framework, f.passing, f.failing
            )
        })
        .collect();
    if !frameworks.is_empty() {
        let _ = writeln!(out, "  controls: {}", frameworks.join(" · "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An AWS account setting is named by its region once; a namespaced Kubernetes object named
    /// as its namespace keeps both; long names widen the column, within bounds.
    #[test]
    fn account_settings_read_by_region_and_long_types_widen_the_column() {
        let region = Some("eu-west-1".to_string());
        assert_eq!(
            identity("AWS::EC2::EBSEncryptionByDefault", &region, "eu-west-1"),
            "AWS::EC2::EBSEncryptionByDefault eu-west-1"
        );
        assert_eq!(
            identity("AWS::EC2::SecurityGroup", &region, "sg-1"),
            "AWS::EC2::SecurityGroup eu-west-1/sg-1"
        );
        assert_eq!(
            identity("ConfigMap", &Some("shop".into()), "shop"),
            "ConfigMap shop/shop"
        );
        assert_eq!(identity("Namespace", &None, "shop"), "Namespace shop");
        let long = identity("AWS::EC2::SecurityGroup", &region, "sg-0123456789abcdef0");
        assert_eq!(column_width(["short".to_string()].into_iter()), 40);
        assert_eq!(
            column_width([long.clone(), "short".to_string()].into_iter()),
            long.chars().count()
        );
        assert_eq!(column_width(["x".repeat(200)].into_iter()), 80);
    }
}
