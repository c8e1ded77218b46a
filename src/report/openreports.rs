//! OpenReports output (`openreports.io/v1alpha1`), the format Kyverno, Policy Reporter and
//! Trivy's adapters read policy results in: a multi-document YAML stream with one `Report` per
//! target and namespace, and one `ClusterReport` per target for cluster-scoped Kubernetes
//! resources, AWS resources and the scan's own errors. Compliance findings are results of their
//! rule (waived ones `skip`); drift is the `gitdrift-drift` policy, one result per judged
//! resource. It is a file to apply or to hand to Policy Reporter: gitdrift never writes it to a
//! cluster itself.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::ScanReport;
use crate::audit::findings::FindingStatus;
use crate::diff::Status;
use crate::model::Severity;

/// The policy drift results are filed under.
pub const DRIFT_POLICY: &str = "gitdrift-drift";
/// The policy a target's scan errors are filed under.
pub const SCAN_POLICY: &str = "gitdrift-scan";

/// Which report a result goes to: a target's namespace, or the target's cluster report.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Place {
    target: String,
    namespace: Option<String>,
}

impl Place {
    fn of(target: &str, api_version: &str, namespace: &Option<String>) -> Place {
        // AWS "namespaces" are regions: AWS results go to the cluster report.
        let namespace = if api_version.starts_with(crate::model::aws::GROUP) {
            None
        } else {
            namespace.clone()
        };
        Place {
            target: target.to_string(),
            namespace,
        }
    }
}

/// Renders the report as OpenReports documents.
pub fn render(report: &ScanReport) -> String {
    let when = report.scan.finished_at;
    let timestamp = json!({
        "seconds": when.timestamp(),
        "nanos": when.timestamp_subsec_nanos(),
    });
    let mut results: BTreeMap<Place, Vec<Value>> = BTreeMap::new();
    for r in &report.resources {
        let (outcome, message) = match r.status {
            Status::InSync => ("pass", "in sync with git".to_string()),
            Status::Drifted => (
                "fail",
                format!(
                    "drifted from git: {}",
                    r.drifts
                        .iter()
                        .map(|d| d.path.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            Status::Missing => (
                "fail",
                r.reason
                    .clone()
                    .map_or("declared in git, not live".to_string(), |why| {
                        format!("declared in git, not live: {why}")
                    }),
            ),
            Status::Unmanaged => ("fail", "live, not declared in git".to_string()),
        };
        let mut properties = Map::new();
        properties.insert("status".into(), json!(r.status.as_str()));
        if !r.drifts.is_empty() {
            let paths: Vec<&str> = r.drifts.iter().map(|d| d.path.as_str()).collect();
            properties.insert("paths".into(), json!(paths.join(",")));
        }
        if let Some(by) = &r.last_changed_by {
            properties.insert("changedBy".into(), json!(by));
        }
        if let Some(at) = &r.last_changed_at {
            properties.insert("changedAt".into(), json!(at));
        }
        if let Some(source) = &r.source {
            properties.insert("declaredAt".into(), json!(source.place()));
        }
        let result = json!({
            "source": "gitdrift",
            "policy": DRIFT_POLICY,
            "rule": r.status.as_str(),
            "result": outcome,
            "scored": true,
            "message": message,
            "resources": [reference(&r.api_version, &r.kind, &r.namespace, &r.name)],
            "properties": properties,
            "timestamp": timestamp,
        });
        results
            .entry(Place::of(&r.target, &r.api_version, &r.namespace))
            .or_default()
            .push(result);
    }
    let packs: BTreeMap<&str, &str> = report
        .compliance
        .rules
        .iter()
        .map(|rule| (rule.id.as_str(), rule.pack.as_str()))
        .collect();
    for f in &report.findings {
        let outcome = match f.status {
            FindingStatus::Fail => "fail",
            FindingStatus::Waived => "skip",
        };
        let mut properties = Map::new();
        for (framework, controls) in f.controls.iter() {
            properties.insert(format!("controls.{framework}"), json!(controls.join(",")));
        }
        properties.insert(
            "side".into(),
            json!(if f.live_only {
                "live only"
            } else {
                f.side.as_str()
            }),
        );
        properties.insert("fingerprint".into(), json!(f.fingerprint));
        if let Some(source) = &f.source {
            properties.insert("declaredAt".into(), json!(source.place()));
        }
        let mut result = json!({
            "source": "gitdrift",
            "policy": f.rule,
            "rule": f.rule,
            "result": outcome,
            "severity": f.severity.as_str(),
            "scored": true,
            "message": f.message,
            "resources": [reference(&f.resource.api_version, &f.resource.kind, &f.resource.namespace, &f.resource.name)],
            "properties": properties,
            "timestamp": timestamp,
        });
        if let Some(pack) = packs.get(f.rule.as_str()) {
            result["category"] = json!(pack);
        }
        results
            .entry(Place::of(
                &f.resource.target,
                &f.resource.api_version,
                &f.resource.namespace,
            ))
            .or_default()
            .push(result);
    }
    for p in report
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
    {
        let Some(target) = &p.target else { continue };
        results
            .entry(Place {
                target: target.clone(),
                namespace: None,
            })
            .or_default()
            .push(json!({
                "source": "gitdrift",
                "policy": SCAN_POLICY,
                "rule": p.code.as_str(),
                "result": "error",
                "scored": false,
                "message": p.message,
                "timestamp": timestamp,
            }));
    }
    let mut out = String::new();
    for (place, results) in results {
        let mut summary = BTreeMap::from([
            ("pass", 0u64),
            ("fail", 0),
            ("warn", 0),
            ("error", 0),
            ("skip", 0),
        ]);
        for r in &results {
            if let Some(count) = r["result"].as_str().and_then(|o| summary.get_mut(o)) {
                *count += 1;
            }
        }
        let mut metadata = json!({
            "name": format!("gitdrift-{}", dns_label(&place.target)),
            "labels": {
                "app.kubernetes.io/managed-by": "gitdrift",
                "gitdrift.dev/target": label_value(&place.target),
            },
            "annotations": {"gitdrift.dev/target": place.target},
        });
        let kind = match &place.namespace {
            Some(namespace) => {
                metadata["namespace"] = json!(namespace);
                "Report"
            }
            None => "ClusterReport",
        };
        let document = json!({
            "apiVersion": "openreports.io/v1alpha1",
            "kind": kind,
            "metadata": metadata,
            "source": "gitdrift",
            "summary": summary,
            "results": results,
        });
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(&document).unwrap_or_default());
    }
    out
}

/// An object reference for a result.
fn reference(api_version: &str, kind: &str, namespace: &Option<String>, name: &str) -> Value {
    let mut reference = json!({"apiVersion": api_version, "kind": kind, "name": name});
    if let Some(namespace) = namespace {
        reference["namespace"] = json!(namespace);
    }
    reference
}

/// A target name as part of an object name: lower-case letters, digits and `-`, at most 50
/// characters, starting and ending with a letter or digit.
fn dns_label(name: &str) -> String {
    let mut out: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(50)
        .collect();
    out = out.trim_matches('-').to_string();
    if out.is_empty() {
        "target".to_string()
    } else {
        out
    }
}

/// A target name as a label value: letters, digits, `-`, `_` and `.`, at most 63 characters,
/// starting and ending with a letter or digit.
fn label_value(name: &str) -> String {
    let out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    out.trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_names_become_valid_object_names_and_label_values() {
        assert_eq!(dns_label("Prod EU/1"), "prod-eu-1");
        assert_eq!(dns_label("--"), "target");
        assert_eq!(label_value("prod eu_1."), "prod-eu_1");
        assert!(dns_label(&"x".repeat(300)).len() <= 50);
    }
}
