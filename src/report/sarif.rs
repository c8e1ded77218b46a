//! The SARIF 2.1.0 report, for code scanning (GitHub and others): drift and compliance findings
//! located where git declares the resource (file and line), so that a pull request or the
//! repository's alerts show them on the manifest. Results without a place in git (unmanaged
//! resources, findings on undeclared live resources) have no location to point at and are left
//! out; the JSON report has them.

use serde_json::{Value, json};

use super::{ScanReport, display_value, resource_name};
use crate::audit::findings::FindingStatus;
use crate::diff::Status;
use crate::model::RuleSeverity;
use crate::model::SourceRef;

const DRIFTED: &str = "gitdrift/drifted";
const MISSING: &str = "gitdrift/missing";
const DEGRADED: &str = "gitdrift/degraded";

fn level(severity: RuleSeverity) -> &'static str {
    match severity {
        RuleSeverity::Critical | RuleSeverity::High => "error",
        RuleSeverity::Medium => "warning",
        RuleSeverity::Low | RuleSeverity::Info => "note",
    }
}

/// GitHub's `security-severity`: a CVSS-like score it buckets into critical, high, medium, low.
fn security_severity(severity: RuleSeverity) -> &'static str {
    match severity {
        RuleSeverity::Critical => "9.5",
        RuleSeverity::High => "8.0",
        RuleSeverity::Medium => "5.5",
        RuleSeverity::Low => "3.0",
        RuleSeverity::Info => "0.0",
    }
}

fn location(source: &SourceRef) -> Value {
    location_at(source, source.line)
}

/// The location of a line in the source's file (a drifted field's, where the scan located it).
fn location_at(source: &SourceRef, line: Option<u64>) -> Value {
    let mut physical = json!({"artifactLocation": {"uri": source.file}});
    if let Some(line) = line.filter(|l| *l > 0) {
        physical["region"] = json!({"startLine": line});
    }
    json!([{"physicalLocation": physical}])
}

fn hash(parts: &[&str]) -> String {
    crate::digest::fingerprint(parts)
}

/// The SARIF log as a JSON value.
pub fn log(report: &ScanReport) -> Value {
    let mut rules = vec![
        json!({
            "id": DRIFTED,
            "name": "Drifted",
            "shortDescription": {"text": "The live resource differs from what git declares."},
            "fullDescription": {"text": "A field git declares has another value live (or is gone), or a field an imperative tool set live is not in git."},
            "help": {"text": "Bring git and the live resource back in line: change git to what runs, or let the deployment tool apply git again."},
            "defaultConfiguration": {"level": "warning"},
            "properties": {"tags": ["drift"]}
        }),
        json!({
            "id": DEGRADED,
            "name": "Degraded",
            "shortDescription": {"text": "A resource git declares is failing live."},
            "fullDescription": {"text": "The live resource's status says it does not work: a rollout past its progress deadline, a crash-looping container, a failed Job, a lost volume claim."},
            "help": {"text": "Read the reason and the resource's events; fix the change that broke it in git, or roll back."},
            "defaultConfiguration": {"level": "error"},
            "properties": {"tags": ["health"]}
        }),
        json!({
            "id": MISSING,
            "name": "Missing",
            "shortDescription": {"text": "Git declares a resource that does not exist live."},
            "fullDescription": {"text": "The declared resource was not found in the live state of its target."},
            "help": {"text": "Apply git, or remove the declaration if the resource was retired on purpose."},
            "defaultConfiguration": {"level": "error"},
            "properties": {"tags": ["drift"]}
        }),
    ];
    for rule in &report.compliance.rules {
        let controls: Vec<String> = rule
            .controls
            .iter()
            .flat_map(|(f, ids)| ids.iter().map(move |id| format!("{f}:{id}")))
            .collect();
        let mut tags = vec!["security".to_string(), "compliance".to_string()];
        tags.extend(controls);
        rules.push(json!({
            "id": rule.id,
            "name": rule.title,
            "shortDescription": {"text": rule.title},
            "help": {"text": rule.remediation.clone().unwrap_or_else(|| rule.title.clone())},
            "defaultConfiguration": {"level": level(rule.severity)},
            "properties": {"tags": tags, "security-severity": security_severity(rule.severity), "pack": rule.pack}
        }));
    }
    let index = |id: &str| rules.iter().position(|r| r["id"] == id).unwrap_or(0);

    let mut results = Vec::new();
    for r in &report.resources {
        let Some(source) = &r.source else { continue };
        let what = format!(
            "{} {} on target {}",
            r.kind,
            resource_name(&r.namespace, &r.name),
            r.target
        );
        if let Some(health) = r
            .health
            .as_ref()
            .filter(|h| h.status == crate::health::HealthStatus::Degraded)
        {
            results.push(json!({
                "ruleId": DEGRADED,
                "ruleIndex": index(DEGRADED),
                "level": "error",
                "message": {"text": format!("{what} is degraded: {}", health.reason)},
                "locations": location(source),
                "partialFingerprints": {"gitdrift/v1": hash(&[DEGRADED, &r.target, &r.kind, r.namespace.as_deref().unwrap_or(""), &r.name])}
            }));
        }
        match r.status {
            Status::Drifted => {
                for d in &r.drifts {
                    let by = d
                        .changed_by
                        .as_deref()
                        .map(|m| format!(", changed by {m}"))
                        .unwrap_or_default();
                    results.push(json!({
                        "ruleId": DRIFTED,
                        "ruleIndex": index(DRIFTED),
                        "level": "warning",
                        "message": {"text": format!(
                            "{what}: {} is {} live; git declares {}{by}",
                            d.path,
                            display_value(&d.live),
                            display_value(&d.desired)
                        )},
                        "locations": location_at(source, d.line.or(source.line)),
                        "partialFingerprints": {"gitdrift/v1": hash(&[DRIFTED, &r.target, &r.kind, r.namespace.as_deref().unwrap_or(""), &r.name, &d.path])}
                    }));
                }
            }
            Status::Missing => results.push(json!({
                "ruleId": MISSING,
                "ruleIndex": index(MISSING),
                "level": "error",
                "message": {"text": format!(
                    "{what} is declared but not live{}",
                    r.reason.as_deref().map(|x| format!(": {x}")).unwrap_or_default()
                )},
                "locations": location(source),
                "partialFingerprints": {"gitdrift/v1": hash(&[MISSING, &r.target, &r.kind, r.namespace.as_deref().unwrap_or(""), &r.name])}
            })),
            _ => {}
        }
    }
    for f in &report.findings {
        let Some(source) = &f.source else { continue };
        let side = if f.live_only {
            "live only".to_string()
        } else {
            f.side.as_str().to_string()
        };
        let mut result = json!({
            "ruleId": f.rule,
            "ruleIndex": index(&f.rule),
            "level": level(f.severity),
            "message": {"text": format!(
                "{} {} on target {} ({side}): {}",
                f.resource.kind,
                resource_name(&f.resource.namespace, &f.resource.name),
                f.resource.target,
                f.message
            )},
            "locations": location(source),
            "partialFingerprints": {"gitdrift/v1": f.fingerprint},
            "properties": {"side": f.side.as_str(), "liveOnly": f.live_only}
        });
        if f.status == FindingStatus::Waived
            && let Some(w) = &f.waiver
        {
            result["suppressions"] = json!([{
                "kind": "external",
                "status": "accepted",
                "justification": format!("{} (until {}{})", w.justification, w.expires, w.owner.as_deref().map(|o| format!(", {o}")).unwrap_or_default())
            }]);
        }
        results.push(result);
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "gitdrift",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules
            }},
            "automationDetails": {"id": format!("gitdrift/{}", report.scan.config)},
            "invocations": [{
                "executionSuccessful": report.summary.errors == 0,
                "startTimeUtc": report.scan.started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "endTimeUtc": report.scan.finished_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            }],
            "results": results,
            "properties": match &report.trend {
                Some(t) => json!({"trend": t}),
                None => json!({}),
            }
        }]
    })
}

/// Renders the report as SARIF 2.1.0 JSON.
pub fn render(report: &ScanReport) -> String {
    let mut out = serde_json::to_string_pretty(&log(report)).unwrap_or_default();
    out.push('\n');
    out
}
