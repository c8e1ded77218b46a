//! A target's published counts as the sum of what each resource adds to them: resources per
//! kind and status, health and drifted fields per kind, failing findings per side, severity and
//! rule, live-only findings, failing findings per framework control. Built from a scan's report,
//! then patched one resource at a time: `serve` publishes a watched change by taking the
//! resource's old share out and its new share in, in time independent of the target's size,
//! and the result is the one a full scan of the same state would count (a test holds them
//! equal on random changes).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use super::{ScanReport, Summary};
use crate::audit::findings::{Finding, FindingStatus};
use crate::diff::Status;
use crate::judge::ResourceReport;
use crate::model::{ResourceKey, RuleSeverity, Side};

/// One failing finding, as counted.
#[derive(Clone, Debug, PartialEq)]
pub struct Failing {
    /// Its side.
    pub side: Side,
    /// Its rule's severity.
    pub severity: RuleSeverity,
    /// Its rule.
    pub rule: String,
    /// A live finding git does not share.
    pub live_only: bool,
    /// Framework → control ids of its rule.
    pub controls: Arc<BTreeMap<String, Vec<String>>>,
}

impl Failing {
    /// A finding's share, when it fails (waived findings count nowhere here).
    pub fn of(finding: &Finding) -> Option<Failing> {
        (finding.status == FindingStatus::Fail).then(|| Failing {
            side: finding.side,
            severity: finding.severity,
            rule: finding.rule.clone(),
            live_only: finding.live_only,
            controls: Arc::clone(&finding.controls),
        })
    }
}

/// A resource's judgement, as counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Judged {
    /// Its status.
    pub status: Status,
    /// How many fields drifted.
    pub fields: usize,
    /// Its health, where judged.
    pub health: Option<&'static str>,
}

impl Judged {
    /// A resource report's share.
    pub fn of(report: &ResourceReport) -> Judged {
        Judged {
            status: report.status,
            fields: report.drifts.len(),
            health: report.health.as_ref().map(|h| h.status.as_str()),
        }
    }
}

/// What one resource (by identity) adds to its target's counts: its judgement (none for a live
/// object only findings name; more than one where AWS declarations share an identity) and its
/// failing findings on both sides.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Entry {
    /// Its judgements.
    pub resource: Vec<Judged>,
    /// Its failing findings.
    pub findings: Vec<Failing>,
}

/// A target's counts. Zero counts are dropped, so that a patched tally equals the one a report
/// of the same state gives; the controls of the rules that ran are kept at zero (they pass).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Resources per kind and status.
    pub resources: BTreeMap<(String, Status), i64>,
    /// Resources per kind and health.
    pub health: BTreeMap<(String, &'static str), i64>,
    /// Drifted fields per kind (present for every kind with resources).
    pub fields: BTreeMap<String, i64>,
    /// Failing findings per side, severity and rule.
    pub findings: BTreeMap<(Side, RuleSeverity, String), i64>,
    /// Failing live-only findings per severity and rule.
    pub live_only: BTreeMap<(RuleSeverity, String), i64>,
    /// Failing findings per control of each framework, for the controls of the rules the
    /// scan ran (a patch moves their counts, never the set: which rules apply is the scan's).
    pub controls: BTreeMap<String, BTreeMap<String, i64>>,
    /// Resources not in sync, one by one (only with `serve.resource_metrics`).
    pub out_of_sync: Option<BTreeSet<(ResourceKey, Status)>>,
    /// What the last patches did to `out_of_sync` (added or taken out), for the per-resource
    /// series to follow one by one.
    pub out_of_sync_changes: Vec<(ResourceKey, Status, bool)>,
    /// Resources per kind, all statuses together (which kinds have series).
    kinds: BTreeMap<String, i64>,
}

fn bump<K: Ord + Clone>(map: &mut BTreeMap<K, i64>, key: K, by: i64) {
    let n = map.entry(key.clone()).or_insert(0);
    *n += by;
    if *n == 0 {
        map.remove(&key);
    }
}

impl Tally {
    /// Adds (`sign` 1) or takes out (`sign` -1) one resource's share.
    pub fn add(&mut self, key: &ResourceKey, entry: &Entry, sign: i64) {
        for judged in &entry.resource {
            let kind = &key.kind;
            bump(&mut self.kinds, kind.clone(), sign);
            bump(&mut self.resources, (kind.clone(), judged.status), sign);
            let fields = self.fields.entry(kind.clone()).or_insert(0);
            *fields += sign * judged.fields as i64;
            if !self.kinds.contains_key(kind) {
                self.fields.remove(kind);
            }
            if let Some(health) = judged.health {
                bump(&mut self.health, (kind.clone(), health), sign);
            }
            if let Some(set) = &mut self.out_of_sync
                && judged.status != Status::InSync
            {
                let item = (key.clone(), judged.status);
                let changed = if sign > 0 {
                    set.insert(item)
                } else {
                    set.remove(&item)
                };
                if changed {
                    self.out_of_sync_changes
                        .push((key.clone(), judged.status, sign > 0));
                }
            }
        }
        for f in &entry.findings {
            bump(
                &mut self.findings,
                (f.side, f.severity, f.rule.clone()),
                sign,
            );
            if f.live_only {
                bump(&mut self.live_only, (f.severity, f.rule.clone()), sign);
            }
            for (framework, controls) in f.controls.iter() {
                let Some(framework) = self.controls.get_mut(framework) else {
                    continue;
                };
                for control in controls {
                    if let Some(n) = framework.get_mut(control) {
                        *n += sign;
                    }
                }
            }
        }
    }

    /// Failing findings per severity (every severity, zeros included), as
    /// [`crate::audit::findings::Compliance::failing`] counts them.
    pub fn failing(&self) -> BTreeMap<String, usize> {
        let mut failing: BTreeMap<String, usize> = RuleSeverity::ALL
            .iter()
            .map(|s| (s.as_str().to_string(), 0))
            .collect();
        for ((_, severity, _), n) in &self.findings {
            *failing.entry(severity.as_str().to_string()).or_default() += *n as usize;
        }
        failing
    }

    /// Framework → (controls passing, controls failing).
    pub fn frameworks(&self) -> BTreeMap<&str, (usize, usize)> {
        self.controls
            .iter()
            .map(|(framework, controls)| {
                let failing = controls.values().filter(|n| **n > 0).count();
                (framework.as_str(), (controls.len() - failing, failing))
            })
            .collect()
    }

    /// Kinds with resources.
    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.kinds.keys().map(String::as_str)
    }

    /// Managed (in sync or drifted), unmanaged and missing resources.
    pub fn coverage(&self) -> (usize, usize, usize) {
        let (mut managed, mut unmanaged, mut missing) = (0, 0, 0);
        for ((_, status), n) in &self.resources {
            let n = *n as usize;
            match status {
                Status::InSync | Status::Drifted => managed += n,
                Status::Unmanaged => unmanaged += n,
                Status::Missing => missing += n,
            }
        }
        (managed, unmanaged, missing)
    }

    /// The summary's resource counts from this tally; `base` gives what a tally does not
    /// hold (problems, unreadable kinds).
    pub fn summary(&self, base: &Summary) -> Summary {
        let mut summary = Summary {
            resources: 0,
            in_sync: 0,
            drifted: 0,
            missing: 0,
            unmanaged: 0,
            drifts: self.fields.values().sum::<i64>() as usize,
            health: BTreeMap::new(),
            ..base.clone()
        };
        for ((_, status), n) in &self.resources {
            let n = *n as usize;
            summary.resources += n;
            match status {
                Status::InSync => summary.in_sync += n,
                Status::Drifted => summary.drifted += n,
                Status::Missing => summary.missing += n,
                Status::Unmanaged => summary.unmanaged += n,
            }
        }
        for ((_, health), n) in &self.health {
            *summary.health.entry((*health).to_string()).or_default() += *n as usize;
        }
        summary
    }
}

/// Puts failing findings in one order, so that two entries with the same findings compare
/// equal whatever order their findings came in.
fn canonical(findings: &mut [Failing]) {
    findings.sort_by(|a, b| {
        (a.side, a.severity, &a.rule, a.live_only).cmp(&(b.side, b.severity, &b.rule, b.live_only))
    });
}

/// The group a resource's `apiVersion` names (`""` for the core group).
fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

/// A resource as findings and the judgement name it, without its group (findings of one
/// resource on both sides are paired this way).
pub type Place = (String, Option<String>, String);

/// A target's counts as published, with each resource's share, so that one resource can be
/// replaced: the result of its last scan, patched since by watched changes.
#[derive(Debug, Default)]
pub struct Published {
    entries: HashMap<ResourceKey, Entry, foldhash::fast::RandomState>,
    tally: Tally,
    /// Rules that found something on git's side, per resource: a live finding of one of them
    /// is not live-only.
    desired: HashMap<Place, BTreeSet<String>, foldhash::fast::RandomState>,
    base: Summary,
}

impl Published {
    /// A target's counts as its scan's report has them; with `per_resource`, the resources not
    /// in sync one by one too.
    pub fn of(report: &ScanReport, target: &str, per_resource: bool) -> Published {
        let mut published = Published {
            base: report.summary.clone(),
            ..Published::default()
        };
        if per_resource {
            published.tally.out_of_sync = Some(BTreeSet::new());
        }
        for r in report.resources.iter().filter(|r| r.target == target) {
            let key = ResourceKey {
                group: group_of(&r.api_version).to_string(),
                kind: r.kind.clone(),
                namespace: r.namespace.clone(),
                name: r.name.clone(),
            };
            published
                .entries
                .entry(key)
                .or_default()
                .resource
                .push(Judged::of(r));
        }
        for f in report
            .findings
            .iter()
            .filter(|f| f.resource.target == target)
        {
            if f.side == Side::Desired {
                let place = (
                    f.resource.kind.clone(),
                    f.resource.namespace.clone(),
                    f.resource.name.clone(),
                );
                published
                    .desired
                    .entry(place)
                    .or_default()
                    .insert(f.rule.clone());
            }
            if let Some(failing) = Failing::of(f) {
                let key = ResourceKey {
                    group: group_of(&f.resource.api_version).to_string(),
                    kind: f.resource.kind.clone(),
                    namespace: f.resource.namespace.clone(),
                    name: f.resource.name.clone(),
                };
                published
                    .entries
                    .entry(key)
                    .or_default()
                    .findings
                    .push(failing);
            }
        }
        // Every control of the rules that ran, passing until a finding fails it.
        for framework in &report.compliance.frameworks {
            let controls = published
                .tally
                .controls
                .entry(framework.framework.clone())
                .or_default();
            for control in &framework.controls {
                controls.insert(control.id.clone(), 0);
            }
        }
        let mut tally = std::mem::take(&mut published.tally);
        for (key, entry) in published.entries.iter_mut() {
            canonical(&mut entry.findings);
            tally.add(key, entry, 1);
        }
        tally.out_of_sync_changes.clear();
        published.tally = tally;
        published
    }

    /// The counts.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    /// What the patches since the last call did to the resources not in sync.
    pub fn take_out_of_sync_changes(&mut self) -> Vec<(ResourceKey, Status, bool)> {
        std::mem::take(&mut self.tally.out_of_sync_changes)
    }

    /// The summary: the scan's, with the resource counts as patched.
    pub fn summary(&self) -> Summary {
        self.tally.summary(&self.base)
    }

    /// Whether git's side of a resource fails `rule` (a live finding of it is then not
    /// live-only).
    pub fn desired_fails(&self, key: &ResourceKey, rule: &str) -> bool {
        let place = (key.kind.clone(), key.namespace.clone(), key.name.clone());
        self.desired.get(&place).is_some_and(|r| r.contains(rule))
    }

    /// Replaces a resource's judgement and its live findings (its git findings stay: only a
    /// new revision changes them). Returns whether any count changed.
    pub fn patch(
        &mut self,
        key: &ResourceKey,
        resource: Option<Judged>,
        live: Vec<Failing>,
    ) -> bool {
        let old = self.entries.remove(key).unwrap_or_default();
        let mut new = Entry {
            resource: resource.into_iter().collect(),
            findings: old
                .findings
                .iter()
                .filter(|f| f.side == Side::Desired)
                .cloned()
                .collect(),
        };
        new.findings.extend(live);
        canonical(&mut new.findings);
        let changed = new != old;
        if changed {
            self.tally.add(key, &old, -1);
            self.tally.add(key, &new, 1);
        }
        if !new.resource.is_empty() || !new.findings.is_empty() {
            self.entries.insert(key.clone(), new);
        }
        changed
    }
}
