//! Findings as the report carries them, and the one place where their results are filtered:
//! waivers are applied here (expired ones stop applying and are reported, those matching
//! nothing are stale), every finding gets its fingerprint and its resource's report key, and the
//! per-framework control summary is counted, so every output sees the same result.

use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::engine::RuleSet;
use super::run::RawFinding;
use crate::config::audit::Waiver;
use crate::judge::ResourceReport;
use crate::model::SourceRef;
use crate::model::{Code, Problem, ResourceKey, Severity};
use crate::model::{RuleSeverity, Side};

/// Whether a finding counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingStatus {
    /// A violation.
    Fail,
    /// A violation covered by an unexpired waiver.
    Waived,
}

/// The resource a finding is about, as the report's `resources` name it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FindingResource {
    /// Target name.
    pub target: String,
    /// `apiVersion`.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// Kind (or AWS type).
    pub kind: String,
    /// Namespace (or region).
    pub namespace: Option<String>,
    /// Name (or resource id).
    pub name: String,
}

/// The waiver a finding is waived by.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WaiverRef {
    /// Why.
    pub justification: String,
    /// Until when.
    pub expires: NaiveDate,
    /// Who answers for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Where it is written.
    pub file: String,
    /// Its line.
    pub line: u64,
}

/// One violation of one rule by one resource on one side. The rule's title and remediation are
/// in [`Compliance::rules`], once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Rule id.
    pub rule: String,
    /// Rule severity.
    pub severity: RuleSeverity,
    /// Framework → control ids.
    pub controls: std::sync::Arc<BTreeMap<String, Vec<String>>>,
    /// What is wrong.
    pub message: String,
    /// The resource.
    pub resource: FindingResource,
    /// `desired` (as git declares it) or `live`.
    pub side: Side,
    /// Where git declares the resource (file and line of the desired object).
    pub source: Option<SourceRef>,
    /// `fail` or `waived`.
    pub status: FindingStatus,
    /// The waiver, when waived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiver: Option<WaiverRef>,
    /// A live finding that git does not have: the resource is not declared, or its declaration
    /// passes the rule. Someone weakened a control outside git.
    pub live_only: bool,
    /// Stable across scans: a hash of rule, side, resource and message.
    pub fingerprint: String,
}

/// A rule that judged resources in the scan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleInfo {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Severity.
    pub severity: RuleSeverity,
    /// Its pack.
    pub pack: String,
    /// Framework → control ids.
    pub controls: std::sync::Arc<BTreeMap<String, Vec<String>>>,
    /// How to fix a violation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
}

/// A control of a framework and how it stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ControlStatus {
    /// Control id (`5.2`, `baseline/privileged`).
    pub id: String,
    /// `pass` or `fail`.
    pub status: String,
    /// Failing findings.
    pub failing: usize,
    /// Waived findings.
    pub waived: usize,
    /// The rules that check it.
    pub rules: Vec<String>,
}

/// A framework's controls, as far as the rules that ran check them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FrameworkSummary {
    /// Framework id (`pss`, `cis-aws-3.0`, `aws-fsbp`).
    pub framework: String,
    /// Controls without failing findings.
    pub passing: usize,
    /// Controls with failing findings.
    pub failing: usize,
    /// Each control.
    pub controls: Vec<ControlStatus>,
}

/// How a waiver stands after a scan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WaiverStatus {
    /// Rule id.
    pub rule: String,
    /// `active` (waives findings), `expired` (no longer applies), `stale` (matched nothing in a
    /// scan of every target) or `unchecked` (matched nothing in a scan of some targets).
    pub status: String,
    /// Findings it waived.
    pub findings: usize,
    /// Until when.
    pub expires: NaiveDate,
    /// Where it is written.
    pub file: String,
    /// Its line.
    pub line: u64,
}

/// The compliance side of a report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Compliance {
    /// The rules that judged at least one resource (on any target).
    pub rules: Vec<RuleInfo>,
    /// Failing findings per severity.
    pub failing: BTreeMap<String, usize>,
    /// Waived findings.
    pub waived: usize,
    /// Per framework.
    pub frameworks: Vec<FrameworkSummary>,
    /// Every waiver.
    pub waivers: Vec<WaiverStatus>,
}

impl Compliance {
    /// The failing findings per severity, highest first, without the zeros: `["3 high", "33 medium"]`.
    pub fn failing_by_severity(&self) -> Vec<String> {
        RuleSeverity::ALL
            .iter()
            .filter_map(|s| {
                let n = self.failing.get(s.as_str()).copied().unwrap_or(0);
                (n > 0).then(|| format!("{n} {s}"))
            })
            .collect()
    }

    /// Whether any failing finding is at or above `threshold`.
    pub fn fails_at(&self, findings: &[Finding], threshold: Option<RuleSeverity>) -> bool {
        threshold.is_some_and(|t| {
            findings
                .iter()
                .any(|f| f.status == FindingStatus::Fail && f.severity >= t)
        })
    }
}

fn fingerprint(rule: &str, side: Side, resource: &FindingResource, message: &str) -> String {
    crate::digest::fingerprint(&[
        rule,
        side.as_str(),
        &resource.target,
        &resource.api_version,
        &resource.kind,
        resource.namespace.as_deref().unwrap_or(""),
        &resource.name,
        message,
    ])
}

/// The waiver that covers a finding of `rule` on `side` for a resource (its index and
/// reference), and the expired waivers that would have: the first unexpired match wins.
pub fn waiver_for(
    waivers: &[Waiver],
    rule: &str,
    side: Side,
    group: &str,
    key: &FindingResource,
    today: NaiveDate,
) -> (Option<(usize, WaiverRef)>, Vec<usize>) {
    let mut expired = Vec::new();
    for (i, w) in waivers.iter().enumerate() {
        if w.rule != rule || w.side.is_some_and(|s| s != side) {
            continue;
        }
        let resource_key = ResourceKey {
            group: group.to_string(),
            kind: key.kind.clone(),
            namespace: key.namespace.clone(),
            name: key.name.clone(),
        };
        if !w.selector.matches(&key.target, &resource_key) {
            continue;
        }
        if w.expires < today {
            expired.push(i);
            continue;
        }
        let reference = WaiverRef {
            justification: w.justification.clone(),
            expires: w.expires,
            owner: w.owner.clone(),
            file: w.file.display().to_string(),
            line: w.line,
        };
        return (Some((i, reference)), expired);
    }
    (None, expired)
}

/// Turns raw violations into findings: report keys, live-only marks, waivers, fingerprints; and
/// counts the compliance summary. `rules_run` are the rules that judged some resource; `complete`
/// says whether every target was scanned (only then is a waiver that matched nothing stale).
pub fn assemble(
    raw: Vec<RawFinding>,
    set: &RuleSet,
    rules_run: &BTreeSet<usize>,
    resources: &[ResourceReport],
    waivers: &[Waiver],
    today: NaiveDate,
    complete: bool,
) -> (Vec<Finding>, Compliance, Vec<Problem>) {
    // A declared resource is reported under the key its judgement gave it (an AWS declaration
    // matched by tags is named by the live id).
    type Place<'a> = (&'a str, &'a str, &'a str, Option<u64>);
    let mut declared_keys: HashMap<Place, (&Option<String>, &str), foldhash::fast::RandomState> =
        HashMap::with_capacity_and_hasher(resources.len(), Default::default());
    for r in resources {
        if let Some(source) = &r.source {
            declared_keys.insert(
                (&r.target, &r.kind, &source.file, source.line),
                (&r.namespace, &r.name),
            );
        }
    }
    // The resource's names move from the raw finding into its key (nothing reads them after).
    let resource_of = |f: &mut RawFinding| -> FindingResource {
        let declared = f
            .source
            .as_ref()
            .filter(|_| f.side == Side::Desired)
            .and_then(|s| {
                declared_keys.get(&(f.target.as_str(), f.kind.as_str(), s.file.as_str(), s.line))
            })
            .map(|(ns, name)| ((*ns).clone(), name.to_string()));
        let (namespace, name) =
            declared.unwrap_or_else(|| (f.namespace.take(), std::mem::take(&mut f.name)));
        FindingResource {
            target: std::mem::take(&mut f.target),
            api_version: std::mem::take(&mut f.api_version),
            kind: std::mem::take(&mut f.kind),
            namespace,
            name,
        }
    };
    let keyed: Vec<(RawFinding, FindingResource)> = raw
        .into_iter()
        .map(|mut f| {
            let key = resource_of(&mut f);
            (f, key)
        })
        .collect();
    // The same resource on both sides, whatever apiVersion each names.
    type Identity<'a> = (usize, &'a str, &'a str, Option<&'a str>, &'a str);
    fn identity(rule: usize, key: &FindingResource) -> Identity<'_> {
        (
            rule,
            key.target.as_str(),
            key.kind.as_str(),
            key.namespace.as_deref(),
            key.name.as_str(),
        )
    }
    let live_only: Vec<bool> = {
        let desired: HashSet<_, foldhash::fast::RandomState> = keyed
            .iter()
            .filter(|(f, _)| f.side == Side::Desired)
            .map(|(f, key)| identity(f.rule, key))
            .collect();
        keyed
            .iter()
            .map(|(f, key)| f.side == Side::Live && !desired.contains(&identity(f.rule, key)))
            .collect()
    };
    // `keyed` is consumed as findings are made (on every core; the waivers' tallies after).
    type WaiverHits = (Option<usize>, Vec<usize>);
    let (mut findings, tallies): (Vec<Finding>, Vec<WaiverHits>) = keyed
        .into_par_iter()
        .zip(live_only)
        .map(|((f, key), live_only)| {
            let rule = &set.rules[f.rule];
            let (waiver, expired) = waiver_for(waivers, &rule.id, f.side, &f.group, &key, today);
            let fingerprint = fingerprint(&rule.id, f.side, &key, &f.message);
            let matched = waiver.as_ref().map(|(i, _)| *i);
            let finding = Finding {
                rule: rule.id.clone(),
                severity: rule.severity,
                controls: std::sync::Arc::clone(&rule.controls),
                status: if waiver.is_some() {
                    FindingStatus::Waived
                } else {
                    FindingStatus::Fail
                },
                waiver: waiver.map(|(_, w)| w),
                live_only,
                fingerprint,
                message: f.message,
                resource: key,
                side: f.side,
                source: f.source,
            };
            (finding, (matched, expired))
        })
        .unzip();
    let mut matched = vec![0usize; waivers.len()];
    let mut expired_hit = vec![false; waivers.len()];
    for (hit, expired) in tallies {
        if let Some(i) = hit {
            matched[i] += 1;
        }
        for i in expired {
            expired_hit[i] = true;
        }
    }
    findings.par_sort_by(|a, b| {
        (
            std::cmp::Reverse(a.severity),
            &a.rule,
            &a.resource,
            a.side,
            &a.message,
        )
            .cmp(&(
                std::cmp::Reverse(b.severity),
                &b.rule,
                &b.resource,
                b.side,
                &b.message,
            ))
    });

    let mut compliance = Compliance {
        rules: rules_run
            .iter()
            .map(|&i| {
                let r = &set.rules[i];
                RuleInfo {
                    id: r.id.clone(),
                    title: r.title.clone(),
                    severity: r.severity,
                    pack: r.pack.clone(),
                    controls: std::sync::Arc::clone(&r.controls),
                    remediation: r.remediation.clone(),
                }
            })
            .collect(),
        ..Compliance::default()
    };
    for severity in RuleSeverity::ALL {
        compliance.failing.insert(severity.as_str().to_string(), 0);
    }
    for f in &findings {
        match f.status {
            FindingStatus::Fail => {
                *compliance
                    .failing
                    .entry(f.severity.as_str().to_string())
                    .or_default() += 1
            }
            FindingStatus::Waived => compliance.waived += 1,
        }
    }
    // framework → control → (failing, waived, rules)
    type Tally<'a> = (usize, usize, BTreeSet<&'a str>);
    let mut frameworks: BTreeMap<&str, BTreeMap<&str, Tally>> = BTreeMap::new();
    for &i in rules_run {
        let rule = &set.rules[i];
        for (framework, controls) in rule.controls.iter() {
            for control in controls {
                frameworks
                    .entry(framework)
                    .or_default()
                    .entry(control)
                    .or_default()
                    .2
                    .insert(&rule.id);
            }
        }
    }
    for f in &findings {
        for (framework, controls) in f.controls.iter() {
            for control in controls {
                if let Some(entry) = frameworks
                    .get_mut(framework.as_str())
                    .and_then(|c| c.get_mut(control.as_str()))
                {
                    match f.status {
                        FindingStatus::Fail => entry.0 += 1,
                        FindingStatus::Waived => entry.1 += 1,
                    }
                }
            }
        }
    }
    for (framework, controls) in frameworks {
        let controls: Vec<ControlStatus> = controls
            .into_iter()
            .map(|(id, (failing, waived, rules))| ControlStatus {
                id: id.to_string(),
                status: if failing > 0 { "fail" } else { "pass" }.to_string(),
                failing,
                waived,
                rules: rules.into_iter().map(str::to_string).collect(),
            })
            .collect();
        compliance.frameworks.push(FrameworkSummary {
            framework: framework.to_string(),
            passing: controls.iter().filter(|c| c.failing == 0).count(),
            failing: controls.iter().filter(|c| c.failing > 0).count(),
            controls,
        });
    }

    let mut problems = Vec::new();
    for (i, w) in waivers.iter().enumerate() {
        let status = if w.expires < today {
            "expired"
        } else if matched[i] > 0 {
            "active"
        } else {
            "stale"
        };
        let file = w.file.display().to_string();
        match status {
            "expired" => problems.push(
                Problem::new(
                    Severity::Warning,
                    Code::AuditWaiverExpired,
                    format!(
                        "waiver for {} expired on {}{}: its findings fail again",
                        w.rule,
                        w.expires,
                        if expired_hit[i] {
                            ""
                        } else {
                            " (it matches no finding either)"
                        }
                    ),
                )
                .at(&file, Some(w.line)),
            ),
            "stale" if complete => problems.push(
                Problem::new(
                    Severity::Warning,
                    Code::AuditWaiverUnused,
                    format!("waiver for {} matched no finding", w.rule),
                )
                .at(&file, Some(w.line)),
            ),
            _ => {}
        }
        compliance.waivers.push(WaiverStatus {
            rule: w.rule.clone(),
            status: if status == "stale" && !complete {
                "unchecked"
            } else {
                status
            }
            .to_string(),
            findings: matched[i],
            expires: w.expires,
            file,
            line: w.line,
        });
    }
    (findings, compliance, problems)
}
