//! The JUnit XML report, for CI dashboards: per target, a suite of drift test cases (one per
//! resource: passes when in sync) and a suite of compliance test cases (one per rule and
//! resource that breaks it, waived ones skipped, and one passing case per rule that judged
//! resources and found nothing).

use std::collections::BTreeMap;
use std::fmt::Write;

use quick_xml::escape::escape;

use super::{ScanReport, display_value, resource_name};
use crate::audit::findings::{Finding, FindingStatus};
use crate::diff::Status;

struct Case {
    class: String,
    name: String,
    /// `(message, details)` of a failure.
    failure: Option<(String, String)>,
    skipped: Option<String>,
}

/// Renders the report as JUnit XML.
pub fn render(report: &ScanReport) -> String {
    let mut suites: BTreeMap<String, Vec<Case>> = BTreeMap::new();
    for r in &report.resources {
        let mut details = String::new();
        for d in &r.drifts {
            let _ = writeln!(
                details,
                "{}: git {} live {}{}",
                d.path,
                display_value(&d.desired),
                display_value(&d.live),
                d.changed_by
                    .as_deref()
                    .map(|by| format!(" (changed by {by})"))
                    .unwrap_or_default()
            );
        }
        if let Some(s) = &r.source {
            let _ = writeln!(
                details,
                "declared at {}{}",
                s.file,
                s.line.map(|l| format!(":{l}")).unwrap_or_default()
            );
        }
        let degraded = r.source.is_some()
            && r.health
                .as_ref()
                .is_some_and(|h| h.status == crate::health::HealthStatus::Degraded);
        let failure = (r.status != Status::InSync || degraded).then(|| {
            (
                match r.status {
                    Status::InSync => format!(
                        "degraded: {}",
                        r.health.as_ref().map(|h| h.reason.as_str()).unwrap_or("")
                    ),
                    Status::Drifted if degraded => format!(
                        "{} drifted field(s); degraded: {}",
                        r.drifts.len(),
                        r.health.as_ref().map(|h| h.reason.as_str()).unwrap_or("")
                    ),
                    Status::Drifted => format!("{} drifted field(s)", r.drifts.len()),
                    Status::Missing => {
                        format!(
                            "missing{}",
                            r.reason
                                .as_deref()
                                .map(|x| format!(": {x}"))
                                .unwrap_or_default()
                        )
                    }
                    _ => "unmanaged: live, not declared in git".to_string(),
                },
                details,
            )
        });
        suites
            .entry(format!("gitdrift.drift.{}", r.target))
            .or_default()
            .push(Case {
                class: format!("{}.{}", r.target, r.kind),
                name: resource_name(&r.namespace, &r.name),
                failure,
                skipped: None,
            });
    }
    // rule + resource → findings
    let mut groups: BTreeMap<(&str, &str, &str, String), Vec<&Finding>> = BTreeMap::new();
    for f in &report.findings {
        groups
            .entry((
                f.resource.target.as_str(),
                f.rule.as_str(),
                f.resource.kind.as_str(),
                resource_name(&f.resource.namespace, &f.resource.name),
            ))
            .or_default()
            .push(f);
    }
    for ((target, rule, kind, name), findings) in &groups {
        let failing: Vec<&&Finding> = findings
            .iter()
            .filter(|f| f.status == FindingStatus::Fail)
            .collect();
        let describe = |f: &Finding| format!("[{}] {}", f.side.as_str(), f.message);
        suites
            .entry(format!("gitdrift.compliance.{target}"))
            .or_default()
            .push(Case {
                class: format!("{target}.{rule}"),
                name: format!("{kind} {name}"),
                failure: (!failing.is_empty()).then(|| {
                    (
                        format!("{} ({})", failing[0].message, failing[0].severity),
                        failing
                            .iter()
                            .map(|f| describe(f))
                            .collect::<Vec<_>>()
                            .join("\n"),
                    )
                }),
                skipped: failing.is_empty().then(|| {
                    findings
                        .iter()
                        .find_map(|f| f.waiver.as_ref())
                        .map(|w| format!("waived until {}: {}", w.expires, w.justification))
                        .unwrap_or_default()
                }),
            });
    }
    // Rules that judged resources and found nothing pass, once.
    for rule in &report.compliance.rules {
        if !report.findings.iter().any(|f| f.rule == rule.id) {
            suites
                .entry("gitdrift.compliance".to_string())
                .or_default()
                .push(Case {
                    class: rule.id.clone(),
                    name: format!("{}: no violations", rule.title),
                    failure: None,
                    skipped: None,
                });
        }
    }

    let tests: usize = suites.values().map(Vec::len).sum();
    let failures: usize = suites
        .values()
        .flatten()
        .filter(|c| c.failure.is_some())
        .count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"gitdrift\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{}\" timestamp=\"{}\">",
        report.summary.errors,
        report.scan.started_at.format("%Y-%m-%dT%H:%M:%S")
    );
    if let Some(t) = &report.trend {
        // JUnit has properties on a suite only: the trend gets a suite of its own.
        let _ = writeln!(
            out,
            "  <testsuite name=\"trend\" tests=\"0\" failures=\"0\" errors=\"0\" skipped=\"0\">\n    <properties>\n      <property name=\"new\" value=\"{}\"/>\n      <property name=\"resolved\" value=\"{}\"/>\n      <property name=\"open\" value=\"{}\"/>\n      <property name=\"summary\" value=\"{}\"/>\n    </properties>\n  </testsuite>",
            t.new,
            t.resolved,
            t.open,
            escape(t.describe())
        );
    }
    for (name, cases) in &suites {
        let failures = cases.iter().filter(|c| c.failure.is_some()).count();
        let skipped = cases.iter().filter(|c| c.skipped.is_some()).count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">",
            escape(name),
            cases.len()
        );
        for case in cases {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\"",
                escape(&case.class),
                escape(&case.name)
            );
            match (&case.failure, &case.skipped) {
                (Some((message, details)), _) => {
                    let _ = writeln!(
                        out,
                        ">\n      <failure message=\"{}\" type=\"gitdrift\">{}</failure>\n    </testcase>",
                        escape(message),
                        escape(details)
                    );
                }
                (None, Some(reason)) => {
                    let _ = writeln!(
                        out,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                        escape(reason)
                    );
                }
                (None, None) => out.push_str("/>\n"),
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
