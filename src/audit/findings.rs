//! Findings as the report carries them, and the one place where their results are filtered:
//! waivers are applied here (expired ones stop applying and are reported, those matching
//! nothing are stale), every finding gets its fingerprint and its resource's report key, and the
//! per-framework control summary is counted, so every output sees the same result.

use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use std::sync::Arc;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::engine::RuleSet;
use super::run::{Chunk, RawFinding};
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
    (rule, side, caused_by): (&str, Side, &[u32]),
    group: &str,
    key: &FindingResource,
    today: NaiveDate,
) -> (Option<(usize, WaiverRef)>, Vec<usize>) {
    let mut expired = Vec::new();
    for (i, w) in waivers.iter().enumerate() {
        if w.rule != rule || w.side.is_some_and(|s| s != side) {
            continue;
        }
        // A waiver scoped to parts of the resource covers only what those parts cause.
        if !w.paths.is_empty() && !caused_by.contains(&(i as u32)) {
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

/// What `serve`'s re-scans need to hand on the findings an earlier assembly made instead of
/// making them again (`scan::Memo` keeps one, for all its targets). The findings themselves are kept
/// in the raw findings' chunks they were made of ([`Assembled`]), which the audit memo holds for
/// as long as their subjects are the same: a re-scan reaches them without a lookup. They are valid
/// under the waivers and the day they were made with (a change of either makes them again) and
/// for one rule set (the service's, whose reload starts new memos: rules' severities and controls
/// are not fingerprinted).
#[derive(Default)]
pub struct FindingMemo {
    /// Counts assemblies: a chunk says which one it was last assembled in.
    generation: u64,
    /// The last assembly's findings' places in its order, by their index among its outcomes
    /// (a chunk's findings are at the index its [`Assembled`] says), and that assembly.
    places: (u64, Vec<u32>),
    /// The last assembly's findings taken from the memo.
    pub reused: usize,
    /// The last assembly's findings made.
    pub assembled: usize,
}

/// What an assembly made of one chunk of raw findings, kept in the chunk.
#[derive(Debug)]
pub struct Assembled {
    /// The waivers and the day they were made under.
    context: u128,
    /// One per raw finding, in the chunk's order.
    made: Vec<Made>,
    /// The assembly that last met the chunk, and where its first finding was among that
    /// assembly's outcomes (what [`FindingMemo::places`] is indexed by).
    at: (u64, usize),
}

/// One finding as made, and the waivers it matched.
#[derive(Debug)]
struct Made {
    finding: Arc<Finding>,
    waiver: Option<usize>,
    expired: Vec<usize>,
}

impl Made {
    /// This finding as an assembly's outcome for rule `rule`, made now or taken from its chunk
    /// (with its `place` in the last assembly's order when that is known).
    fn outcome(&self, rule: usize, place: Option<u32>, new: bool) -> Outcome {
        Outcome {
            rule,
            finding: Arc::clone(&self.finding),
            waiver: self.waiver,
            expired: self.expired.clone(),
            place,
            new,
        }
    }
}

/// One finding of an assembly, made now or taken from the memo.
struct Outcome {
    /// Its rule's index.
    rule: usize,
    finding: Arc<Finding>,
    waiver: Option<usize>,
    expired: Vec<usize>,
    /// Its place in the last assembly's order, when taken from the memo and met there.
    place: Option<u32>,
    /// Made now.
    new: bool,
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
        let (waiver, expired) = waiver_for(
            waivers,
            (&rule.id, f.side, &f.caused_by),
            &f.group,
            &key,
            today,
        );
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
        }
    }
}

/// Turns raw violations into findings: report keys, live-only marks, waivers, fingerprints; and
/// counts the compliance summary. `rules_run` are the rules that judged some resource; `complete`
/// says whether every target was scanned (only then is a waiver that matched nothing stale).
/// With a `memo` (`serve`'s re-scans), findings made before are taken from their chunks, shared. `raw`
/// holds one subject's findings per chunk, as [`super::run::Evaluated`] gives them.
#[allow(clippy::too_many_arguments)]
pub fn assemble(
    raw: Vec<Arc<Chunk>>,
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
    // Only the kinds git's side found something in are looked up: a few of many.
    let kinds: HashSet<(&str, &str), foldhash::fast::RandomState> = raw
        .iter()
        .filter_map(|chunk| chunk.first())
        .filter(|f| f.side == Side::Desired)
        .map(|f| (f.target.as_str(), f.kind.as_str()))
        .collect();
    let mut declared_keys: HashMap<Place, (Option<&str>, &str), foldhash::fast::RandomState> =
        HashMap::default();
    for r in resources {
        if let Some(source) = &r.source
            && kinds.contains(&(r.target.as_str(), r.kind.as_str()))
        {
            declared_keys.insert(
                (&r.target, &r.kind, &source.file, source.line),
                (r.namespace.as_deref(), &r.name),
            );
        }
    }
    // A chunk is one subject's: its findings share the resource, looked up once.
    let mut spans = Vec::with_capacity(raw.len());
    let mut keyed: Vec<Keyed<'_>> = Vec::with_capacity(raw.len());
    for chunk in &raw {
        let declared = chunk.first().and_then(|f| {
            let s = f.source.as_ref().filter(|_| f.side == Side::Desired)?;
            declared_keys
                .get(&(f.target.as_str(), f.kind.as_str(), s.file.as_str(), s.line))
                .copied()
        });
        let start = keyed.len();
        keyed.extend(chunk.iter().map(|f| {
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
        }));
        spans.push(start..keyed.len());
    }
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
    // What the findings kept in chunks were made under: the waivers and the day (made under
    // others, they are made again; their waivers' places in the list would not hold).
    let context = memo.is_some().then(|| {
        let mut print = Fingerprint::new();
        print.str(&today.to_string()).str(&format!("{waivers:?}"));
        print.finish()
    });
    if let Some(memo) = memo.as_deref_mut() {
        memo.generation = memo.generation.wrapping_add(1);
    }
    let generation = memo.as_deref().map_or(0, |m| m.generation);
    let last = generation.wrapping_sub(1);
    // Places written by the last assembly (one that did not finish wrote none).
    let places = memo
        .as_deref()
        .filter(|m| m.places.0 == last)
        .map(|m| &m.places.1[..])
        .unwrap_or_default();
    // Made on every core, or taken from their chunk; the waivers' tallies after.
    let outcomes: Vec<Outcome> = raw
        .par_iter()
        .zip(spans)
        .flat_map_iter(|(chunk, span)| {
            let keyed = &keyed[span.clone()];
            let live_only = &live_only[span.clone()];
            let Some(context) = context else {
                let made = keyed.iter().zip(live_only);
                return made
                    .map(|(k, &live_only)| {
                        let made = k.make(set, waivers, today, live_only);
                        made.outcome(k.raw.rule, None, true)
                    })
                    .collect::<Vec<_>>();
            };
            let mut cell = chunk.assembled.lock().unwrap_or_else(|e| e.into_inner());
            let kept = cell.as_mut().filter(|a| {
                // The same waivers and day, and the resource reported under the same name.
                a.context == context
                    && a.made.first().is_some_and(|m| {
                        let resource = &m.finding.resource;
                        (resource.namespace.as_deref(), resource.name.as_str())
                            == (keyed[0].namespace, keyed[0].name)
                    })
            });
            if let Some(kept) = kept {
                // Its places are known when the last assembly met it.
                let (met, start) = kept.at;
                let first = (met == last).then_some(start);
                kept.at = (generation, span.start);
                return kept
                    .made
                    .iter_mut()
                    .zip(keyed.iter().zip(live_only))
                    .enumerate()
                    .map(|(i, (made, (k, &live_only)))| {
                        if made.finding.live_only != live_only {
                            Arc::make_mut(&mut made.finding).live_only = live_only;
                        }
                        let place = first.and_then(|first| places.get(first + i).copied());
                        made.outcome(k.raw.rule, place, false)
                    })
                    .collect();
            }
            let made: Vec<Made> = keyed
                .iter()
                .zip(live_only)
                .map(|(k, &live_only)| k.make(set, waivers, today, live_only))
                .collect();
            let outcomes = made
                .iter()
                .zip(keyed)
                .map(|(made, k)| made.outcome(k.raw.rule, None, true))
                .collect();
            *cell = Some(Assembled {
                context,
                made,
                at: (generation, span.start),
            });
            outcomes
        })
        .collect();
    drop(keyed);
    let mut matched = vec![0usize; waivers.len()];
    let mut expired_hit = vec![false; waivers.len()];
    // Those whose place in the last order is known keep it; the others are sorted and put in
    // place among them. Each with its index among the outcomes.
    let mut kept: Vec<(u32, Arc<Finding>, u32)> = Vec::new();
    let mut fresh: Vec<(Arc<Finding>, u32)> = Vec::new();
    let mut made_now = 0;
    // Places are counted in 32 bits: past that (never at any size a scan reaches), every
    // finding is placed afresh.
    let places_fit = u32::try_from(outcomes.len()).is_ok();
    // Per rule: failing and waived.
    let mut counts = vec![(0usize, 0usize); set.rules.len()];
    for (index, outcome) in outcomes.into_iter().enumerate() {
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
        made_now += usize::from(outcome.new);
        let index = index as u32;
        match outcome.place.filter(|_| places_fit) {
            Some(place) => kept.push((place, outcome.finding, index)),
            None => fresh.push((outcome.finding, index)),
        }
    }
    // Places of one order: sorted by them, the kept are in the report's order.
    kept.sort_unstable_by_key(|(place, ..)| *place);
    fresh.par_sort_by(|a, b| order(&a.0, &b.0));
    let mut findings = Vec::with_capacity(kept.len() + fresh.len());
    let mut indices = Vec::with_capacity(kept.len() + fresh.len());
    // Each finding placed now goes after the kept ones not greater than it, found by
    // bisection: a re-scan makes a few hundred among hundreds of thousands kept.
    let mut cuts = Vec::with_capacity(fresh.len());
    let mut from = 0;
    for (finding, _) in &fresh {
        from += kept[from..]
            .partition_point(|(_, k, _)| order(k, finding) != std::cmp::Ordering::Greater);
        cuts.push(from);
    }
    let mut kept = kept.into_iter();
    let mut at = 0;
    for ((finding, index), cut) in fresh.into_iter().zip(cuts) {
        for (_, before, index) in kept.by_ref().take(cut - at) {
            findings.push(before);
            indices.push(index);
        }
        at = cut;
        findings.push(finding);
        indices.push(index);
    }
    for (_, finding, index) in kept {
        findings.push(finding);
        indices.push(index);
    }
    if let Some(memo) = memo {
        memo.assembled = made_now;
        memo.reused = findings.len() - made_now;
        // Each finding's place, by its index among the outcomes, for the next assembly.
        let (written, places) = &mut memo.places;
        places.clear();
        if places_fit {
            places.resize(indices.len(), 0);
            for (place, index) in indices.into_iter().enumerate() {
                places[index as usize] = place as u32;
            }
            *written = generation;
        }
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
