//! Findings as the report carries them, and the one place where their results are filtered:
//! waivers are applied here (expired ones stop applying and are reported, those matching
//! nothing are stale), every finding gets its fingerprint and its resource's report key, and the
//! per-framework control summary is counted, so every output sees the same result.

use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::engine::RuleSet;
use super::run::RawFinding;
use crate::config::audit::Waiver;
use crate::judge::ResourceReport;
use crate::model::SourceRef;
use crate::model::fingerprint::Fingerprint;
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
    pub fn fails_at(&self, findings: &[Arc<Finding>], threshold: Option<RuleSeverity>) -> bool {
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

/// Findings an earlier assembly made, each by the fingerprint of what made it (its raw finding
/// and the name its resource is reported under): `serve`'s re-scans hand them on shared instead
/// of making them again (`scan::Memo` keeps one for every target). A target's findings are valid
/// under the waivers and the day they were made with (a change of either drops them) and for one
/// rule set (the service's, whose reload starts a new memo: rules' severities and controls are
/// not fingerprinted).
#[derive(Default)]
pub struct FindingMemo {
    /// Per target, the waivers and the day its findings were made under.
    contexts: HashMap<String, u128>,
    made: HashMap<u128, Made, foldhash::fast::RandomState>,
    /// Counts assemblies: a finding not met in the last (of a target it saw) is dropped.
    generation: u64,
    /// The last assembly's findings taken from the memo.
    pub reused: usize,
    /// The last assembly's findings made.
    pub assembled: usize,
}

/// One finding as made, and the waivers it matched.
struct Made {
    finding: Arc<Finding>,
    waiver: Option<usize>,
    expired: Vec<usize>,
    /// The assembly that last met it.
    seen: AtomicU64,
    /// Its place in the order of the last assembly that met it, and that assembly.
    rank: Arc<AtomicU64>,
}

/// One finding of an assembly, made now or taken from the memo.
struct Outcome {
    /// Its rule's index.
    rule: usize,
    finding: Arc<Finding>,
    waiver: Option<usize>,
    expired: Vec<usize>,
    /// Its place in the order of the last assembly that met it, when taken from the memo.
    rank: Option<Arc<AtomicU64>>,
    /// Made now, to be remembered by its fingerprint.
    new: Option<(u128, Made)>,
}

/// The report's order of findings: severity (highest first), rule, resource, side, message,
/// and where git declares it. Total: findings equal in all of it are equal in every field.
fn order(a: &Finding, b: &Finding) -> std::cmp::Ordering {
    type Place<'a> = (&'a str, &'a str, Option<u64>, Option<(&'a str, &'a str)>);
    type Key<'a> = (
        std::cmp::Reverse<RuleSeverity>,
        &'a str,
        &'a FindingResource,
        Side,
        &'a str,
        Option<Place<'a>>,
    );
    fn key(f: &Finding) -> Key<'_> {
        let place = f.source.as_ref().map(|s| {
            let rendered = s.rendered.as_ref().map(|r| (&*r.tool, r.path.as_str()));
            (s.name.as_str(), s.file.as_str(), s.line, rendered)
        });
        (
            std::cmp::Reverse(f.severity),
            &f.rule,
            &f.resource,
            f.side,
            &f.message,
            place,
        )
    }
    key(a).cmp(&key(b))
}

/// A raw finding and the name its resource is reported under.
struct Keyed<'a> {
    raw: &'a RawFinding,
    namespace: Option<&'a str>,
    name: &'a str,
    /// Rule and resource under that name: the same on both sides, whatever apiVersion each
    /// names.
    identity: u128,
}

impl Keyed<'_> {
    /// Everything the finding is made of, beside waivers, day and the live-only mark.
    fn fingerprint(&self) -> u128 {
        let mut print = Fingerprint::new();
        print
            .bytes(&self.raw.print().to_le_bytes())
            .opt(self.namespace)
            .str(self.name);
        print.finish()
    }

    /// The finding, made now.
    fn make(&self, set: &RuleSet, waivers: &[Waiver], today: NaiveDate, live_only: bool) -> Made {
        let f = self.raw;
        let rule = &set.rules[f.rule];
        let key = FindingResource {
            target: f.target.clone(),
            api_version: f.api_version.clone(),
            kind: f.kind.clone(),
            namespace: self.namespace.map(str::to_string),
            name: self.name.to_string(),
        };
        let (waiver, expired) = waiver_for(waivers, &rule.id, f.side, &f.group, &key, today);
        let matched = waiver.as_ref().map(|(i, _)| *i);
        let finding = Finding {
            rule: rule.id.clone(),
            severity: rule.severity,
            controls: Arc::clone(&rule.controls),
            status: if waiver.is_some() {
                FindingStatus::Waived
            } else {
                FindingStatus::Fail
            },
            waiver: waiver.map(|(_, w)| w),
            live_only,
            fingerprint: fingerprint(&rule.id, f.side, &key, &f.message),
            message: f.message.clone(),
            resource: key,
            side: f.side,
            source: f.source.clone(),
        };
        Made {
            finding: Arc::new(finding),
            waiver: matched,
            expired,
            seen: Default::default(),
            rank: Arc::new(AtomicU64::new(u64::MAX)),
        }
    }
}

/// Turns raw violations into findings: report keys, live-only marks, waivers, fingerprints; and
/// counts the compliance summary. `rules_run` are the rules that judged some resource; `complete`
/// says whether every target was scanned (only then is a waiver that matched nothing stale).
/// With a `memo` (`serve`'s re-scans), findings made before are taken from it, shared. `raw`
/// holds one subject's findings per chunk, as [`super::run::Evaluated`] gives them.
#[allow(clippy::too_many_arguments)]
pub fn assemble(
    raw: Vec<Arc<[RawFinding]>>,
    set: &RuleSet,
    rules_run: &BTreeSet<usize>,
    resources: &[Arc<ResourceReport>],
    waivers: &[Waiver],
    today: NaiveDate,
    complete: bool,
    mut memo: Option<&mut FindingMemo>,
) -> (Vec<Arc<Finding>>, Compliance, Vec<Problem>) {
    // A declared resource is reported under the key its judgement gave it (an AWS declaration
    // matched by tags is named by the live id).
    type Place<'a> = (&'a str, &'a str, &'a str, Option<u64>);
    let mut declared_keys: HashMap<Place, (Option<&str>, &str), foldhash::fast::RandomState> =
        HashMap::with_capacity_and_hasher(resources.len(), Default::default());
    for r in resources {
        if let Some(source) = &r.source {
            declared_keys.insert(
                (&r.target, &r.kind, &source.file, source.line),
                (r.namespace.as_deref(), &r.name),
            );
        }
    }
    // A chunk is one subject's: its findings share the resource, looked up once.
    let keyed: Vec<Keyed<'_>> = raw
        .iter()
        .flat_map(|chunk| {
            let declared = chunk.first().and_then(|f| {
                let s = f.source.as_ref().filter(|_| f.side == Side::Desired)?;
                declared_keys
                    .get(&(f.target.as_str(), f.kind.as_str(), s.file.as_str(), s.line))
                    .copied()
            });
            chunk.iter().map(move |f| (f, declared))
        })
        .map(|(f, declared)| {
            let (namespace, name) = declared.unwrap_or((f.namespace.as_deref(), f.name.as_str()));
            let identity = if (namespace, name) == (f.namespace.as_deref(), f.name.as_str()) {
                f.identity()
            } else {
                RawFinding::identity_of(f.rule, &f.target, &f.kind, namespace, name)
            };
            Keyed {
                raw: f,
                namespace,
                name,
                identity,
            }
        })
        .collect();
    let live_only: Vec<bool> = {
        let desired: HashSet<u128, foldhash::fast::RandomState> = keyed
            .iter()
            .filter(|k| k.raw.side == Side::Desired)
            .map(|k| k.identity)
            .collect();
        keyed
            .iter()
            .map(|k| k.raw.side == Side::Live && !desired.contains(&k.identity))
            .collect()
    };
    // The targets assembled now, for the memo: resources come target by target, raw findings
    // subject by subject.
    let mut targets: HashSet<&str, foldhash::fast::RandomState> = HashSet::default();
    if memo.is_some() {
        let mut last = None;
        for target in resources
            .iter()
            .map(|r| r.target.as_str())
            .chain(raw.iter().filter_map(|c| Some(c.first()?.target.as_str())))
        {
            if last != Some(target) {
                targets.insert(target);
                last = Some(target);
            }
        }
    }
    // What the memo's findings were made under: the waivers and the day (a target's findings
    // made under others are dropped; their waivers' places in the list would not hold).
    if let Some(memo) = memo.as_deref_mut() {
        let mut print = Fingerprint::new();
        print.str(&today.to_string()).str(&format!("{waivers:?}"));
        let context = print.finish();
        let mut changed = HashSet::new();
        for target in &targets {
            if memo.contexts.get(*target) != Some(&context) {
                memo.contexts.insert(target.to_string(), context);
                changed.insert(*target);
            }
        }
        if !changed.is_empty() {
            memo.made
                .retain(|_, made| !changed.contains(made.finding.resource.target.as_str()));
        }
        memo.generation = memo.generation.wrapping_add(1);
    }
    let generation = memo.as_deref().map_or(0, |m| m.generation);
    let previous = memo.as_deref().map(|m| &m.made);
    // Made on every core, or taken from the memo; the waivers' tallies after.
    let outcomes: Vec<Outcome> = keyed
        .par_iter()
        .zip(live_only)
        .map(|(k, live_only)| {
            let print = previous.map(|_| k.fingerprint());
            if let Some(made) = print.and_then(|p| previous?.get(&p)) {
                made.seen.store(generation, Relaxed);
                let mut finding = Arc::clone(&made.finding);
                if finding.live_only != live_only {
                    Arc::make_mut(&mut finding).live_only = live_only;
                }
                return Outcome {
                    rule: k.raw.rule,
                    finding,
                    waiver: made.waiver,
                    expired: made.expired.clone(),
                    rank: Some(Arc::clone(&made.rank)),
                    new: None,
                };
            }
            let made = k.make(set, waivers, today, live_only);
            Outcome {
                rule: k.raw.rule,
                finding: Arc::clone(&made.finding),
                waiver: made.waiver,
                expired: made.expired.clone(),
                rank: None,
                new: print.map(|p| (p, made)),
            }
        })
        .collect();
    drop(keyed);
    let mut matched = vec![0usize; waivers.len()];
    let mut expired_hit = vec![false; waivers.len()];
    // Those taken from the memo keep the order they had; those made now are sorted and put
    // in place among them.
    let mut kept: Vec<(u64, Arc<Finding>, Arc<AtomicU64>)> = Vec::new();
    let mut fresh: Vec<(Arc<Finding>, Option<Arc<AtomicU64>>)> = Vec::new();
    let mut made_now = Vec::new();
    // Per rule: failing and waived.
    let mut counts = vec![(0usize, 0usize); set.rules.len()];
    for outcome in outcomes {
        match outcome.finding.status {
            FindingStatus::Fail => counts[outcome.rule].0 += 1,
            FindingStatus::Waived => counts[outcome.rule].1 += 1,
        }
        if let Some(i) = outcome.waiver {
            matched[i] += 1;
        }
        for i in outcome.expired {
            expired_hit[i] = true;
        }
        match (outcome.rank, outcome.new) {
            (Some(rank), _) => kept.push((rank.load(Relaxed), outcome.finding, rank)),
            (None, Some((print, made))) => {
                fresh.push((outcome.finding, Some(Arc::clone(&made.rank))));
                made_now.push((print, made));
            }
            (None, None) => fresh.push((outcome.finding, None)),
        }
    }
    // A rank holds, in its high half, the assembly that gave it (the low 32 bits of its
    // generation) and, in its low half, the place it gave.
    let last = u64::from(generation.wrapping_sub(1) as u32);
    kept.sort_unstable_by_key(|(rank, ..)| *rank);
    // Ranks from different assemblies (one of fewer targets between) do not compare: those
    // are sorted again.
    if kept.iter().any(|(rank, ..)| rank >> 32 != last)
        && !kept.is_sorted_by(|a, b| order(&a.1, &b.1) != std::cmp::Ordering::Greater)
    {
        kept.par_sort_by(|a, b| order(&a.1, &b.1));
    }
    fresh.par_sort_by(|a, b| order(&a.0, &b.0));
    let mut findings = Vec::with_capacity(kept.len() + fresh.len());
    let mut ranks = Vec::with_capacity(kept.len() + fresh.len());
    let mut kept = kept.into_iter().peekable();
    for (finding, rank) in fresh {
        while let Some((_, before, rank)) =
            kept.next_if(|(_, k, _)| order(k, &finding) != std::cmp::Ordering::Greater)
        {
            findings.push(before);
            ranks.push(Some(rank));
        }
        findings.push(finding);
        ranks.push(rank);
    }
    for (_, finding, rank) in kept {
        findings.push(finding);
        ranks.push(Some(rank));
    }
    if let Some(memo) = memo {
        memo.assembled = made_now.len();
        memo.reused = findings.len() - memo.assembled;
        for (print, made) in made_now {
            made.seen.store(generation, Relaxed);
            memo.made.insert(print, made);
        }
        // Each finding's place, for the next assembly.
        let this = u64::from(generation as u32) << 32;
        for (i, rank) in ranks.iter().enumerate() {
            if let Some(rank) = rank {
                rank.store(this | i as u64, Relaxed);
            }
        }
        // Findings of the targets assembled now that were not met are gone; other targets'
        // stay for their own scans.
        memo.made.retain(|_, made| {
            made.seen.load(Relaxed) == generation
                || !targets.contains(made.finding.resource.target.as_str())
        });
    }

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
    for (rule, &(failing, waived)) in set.rules.iter().zip(&counts) {
        if failing > 0 {
            *compliance
                .failing
                .entry(rule.severity.as_str().to_string())
                .or_default() += failing;
        }
        compliance.waived += waived;
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
    // Counted per rule: a rule's findings all name its controls.
    for (rule, &(failing, waived)) in set.rules.iter().zip(&counts) {
        if failing + waived == 0 {
            continue;
        }
        for (framework, controls) in rule.controls.iter() {
            for control in controls {
                if let Some(entry) = frameworks
                    .get_mut(framework.as_str())
                    .and_then(|c| c.get_mut(control.as_str()))
                {
                    entry.0 += failing;
                    entry.1 += waived;
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
