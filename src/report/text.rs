//! The readable report: per resource, its status and, for drift, each field with the git value,
//! the live value and who changed it; problems and stale ignore rules; a summary line. Styled
//! with ANSI codes that the caller strips when colour is off (not a terminal, `NO_COLOR`).

use std::fmt::Write;

use anstyle::{AnsiColor, Style};
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
    let mut current_target: Option<&str> = None;
    for resource in &report.resources {
        if resource.status == Status::InSync && !options.show_in_sync {
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
        resource_block(&mut out, resource);
    }
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

fn resource_block(out: &mut String, resource: &ResourceReport) {
    let (mark, word, style) = match resource.status {
        Status::InSync => ("=", "in sync", GREEN),
        Status::Drifted => ("~", "drifted", YELLOW),
        Status::Missing => ("-", "missing", RED),
        Status::Unmanaged => ("+", "unmanaged", CYAN),
    };
    let identity = match &resource.namespace {
        Some(ns) => format!("{} {}/{}", resource.kind, ns, resource.name),
        None => format!("{} {}", resource.kind, resource.name),
    };
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
        "  {} {:<40}{}",
        paint(style, &format!("{mark} {word:<10}")),
        identity,
        location
    );
    let _ = writeln!(out, "{}", line.trim_end());
    for drift in &resource.drifts {
        let _ = writeln!(out, "      {}", paint(BOLD, &drift.path));
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
    use crate::model::Side;
    use std::collections::BTreeMap;

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
    // (severity, rule, resource, message, status) → sides
    let mut merged: BTreeMap<_, Vec<&Finding>> = BTreeMap::new();
    for f in &report.findings {
        merged
            .entry((
                std::cmp::Reverse(f.severity),
                f.rule.as_str(),
                &f.resource,
                f.message.as_str(),
                f.status,
            ))
            .or_default()
            .push(f);
    }
    let mut current = None;
    for ((severity, rule, resource, message, status), sides) in merged {
        if current != Some(severity.0) {
            current = Some(severity.0);
            let style = match severity.0 {
                crate::model::RuleSeverity::Critical | crate::model::RuleSeverity::High => RED,
                crate::model::RuleSeverity::Medium => YELLOW,
                _ => DIM,
            };
            let _ = writeln!(out, "  {}", paint(style, severity.0.as_str()));
        }
        let desired = sides.iter().find(|f| f.side == Side::Desired);
        let live = sides.iter().find(|f| f.side == Side::Live);
        let where_ = match (desired, live) {
            (Some(_), Some(_)) => "git and live".to_string(),
            (Some(_), None) => "git".to_string(),
            (None, Some(f)) if f.live_only => "live only: not in git".to_string(),
            (None, Some(_)) => "live".to_string(),
            (None, None) => String::new(),
        };
        let place = sides
            .iter()
            .find_map(|f| f.source.as_ref())
            .map(|s| match s.line {
                Some(line) => format!("  {}:{line}", s.file),
                None => format!("  {}", s.file),
            })
            .unwrap_or_default();
        let name = match &resource.namespace {
            Some(ns) => format!("{}/{}", ns, resource.name),
            None => resource.name.clone(),
        };
        let mark = match status {
            FindingStatus::Fail => paint(RED, "✗"),
            FindingStatus::Waived => paint(DIM, "~ waived"),
        };
        let _ = writeln!(
            out,
            "    {mark} {rule}  {} {name} [{}] ({where_}){}",
            resource.kind,
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
