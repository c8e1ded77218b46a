//! Kubernetes objects: matched by (group, kind, namespace, name), each declared object judged
//! against its live counterpart, live objects nothing declares found unmanaged where git
//! declares their namespace or kind.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use rayon::prelude::*;

use super::{ResourceReport, Scopes, TargetJudgement, sort_resources};
use crate::config::Config;
use crate::diff::{self, Status, ignore, unmanaged::SystemContext};
use crate::live::LiveRead;
use crate::model::fingerprint::Fingerprint;
use crate::model::{Code, Declared, GroupKind, Object, Problem, ResourceKey, Severity, SourceRef};

/// Everything needed to judge the objects of one target against what git declares, built once
/// per git revision: the declared objects indexed by identity, the scope of each kind, the
/// namespaces and cluster-scoped kinds in scope for unmanaged detection. A scan judges every
/// object with it once; watch mode keeps it and judges each object again as it changes.
pub struct Judge {
    config: Arc<Config>,
    target: String,
    declared: Vec<Declared>,
    /// Declared objects by their identity's fingerprint ([`identity`]).
    index: HashMap<u128, usize, foldhash::fast::RandomState>,
    /// The declared identities, made when first asked for ([`Judge::declared_keys`]): a
    /// re-scan that reuses its judgements needs none of them.
    order: std::sync::OnceLock<Vec<ResourceKey>>,
    /// Per declared identity, in declaration order: where it is in `declared`, and its
    /// fingerprint (what the live index and the memo look it up by: no names to compare).
    places: Vec<(usize, u128)>,
    scopes: Scopes,
    declared_namespaces: HashSet<String>,
    declared_cluster_kinds: HashSet<GroupKind>,
    /// `unmanaged: {kinds: all}`: every cluster-scoped kind listed is in scope.
    all_kinds: bool,
    unserved: BTreeSet<GroupKind>,
    unreadable: BTreeSet<GroupKind>,
    /// Live objects that could not be parsed: their declarations are not judged.
    skipped: BTreeSet<ResourceKey>,
    find_unmanaged: bool,
    /// Defaults: the built-in kinds', and those of the CRDs git declares or the cluster serves.
    schemas: diff::defaults::Schemas,
    /// Problems found while indexing (objects declared twice).
    pub problems: Vec<Problem>,
    /// The target's declared AWS resources, judged apart ([`super::aws::judge_aws`]).
    pub(super) aws_declared: Vec<Declared>,
    /// The source reads its declarations came from (each source read's number):
    /// with the same reads, the same configuration and the same [`live_evidence`], a re-scan
    /// keeps this judge instead of indexing git's side again.
    pub(super) reads: Vec<u64>,
    /// [`live_evidence`] of the live read it was built with.
    pub(super) evidence: LiveEvidence,
    /// A fingerprint of the declared custom resource definitions (defaults come from them).
    declared_crds: u128,
    /// Per declared identity (in declaration order), the fingerprint of its declaration: made
    /// when a re-scan first needs it, kept with the judge.
    declared_prints: std::sync::OnceLock<Vec<u128>>,
    /// The declared identities' positions in the report's order, once found.
    sorted: std::sync::OnceLock<Vec<u32>>,
    /// A number no other judge has: what a memo's judgements are placed for.
    serial: u64,
    /// How many secrets were registered when its problems were scrubbed of them.
    registered: usize,
}

/// A target's judgements of its declared objects, each with the fingerprint of the pair it
/// judged: the next scan judges again only the pairs whose fingerprint changed (`serve` keeps
/// one per target, `scan::Memo`).
#[derive(Default)]
pub struct JudgeMemo {
    environment: u128,
    /// One per declared identity of the judge they were placed for (its `places`, in order;
    /// `None`: none kept): a re-scan with the same judge finds a pair's by its place, without a
    /// lookup.
    pairs: Vec<Option<Judgement>>,
    /// Each place's identity fingerprint, for a new judge to find the pairs by.
    ids: Vec<u128>,
    /// The serial number of the judge `pairs` are placed for.
    placed_for: u64,
    /// How many judgements `pairs` holds.
    held: usize,
    /// The last scan's pairs reused, and judged again.
    pub reused: usize,
    /// The last scan's pairs judged (again or for the first time).
    pub judged: usize,
    /// The declared identities' order in the report, for the order they were declared in (its
    /// fingerprint): positions in declaration order, sorted.
    sorted: Option<(u128, Vec<u32>)>,
    /// The last scan's judge, kept while git's side and the live evidence stay the same.
    pub(super) judge: Option<Arc<Judge>>,
}

/// One pair's judgement, as a re-scan may reuse it.
struct Judgement {
    inputs: u128,
    report: Option<Arc<ResourceReport>>,
    /// The ignore rules the pair counted as used.
    ignore_used: Vec<usize>,
}

impl JudgeMemo {
    /// How many judgements it holds.
    pub fn len(&self) -> usize {
        self.held
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.held == 0
    }
}

impl Judge {
    /// Indexes a target's declared objects. `live` lends scope evidence (discovery, or the
    /// objects themselves) and the kinds it could not serve or read; `find_unmanaged` is false
    /// when a source could not be read.
    pub fn new(
        config: Arc<Config>,
        target: &str,
        declared: Vec<Declared>,
        live: &LiveRead,
        find_unmanaged: bool,
    ) -> Judge {
        let mut judge = Judge::unproven(config, target, declared, live, find_unmanaged);
        judge.evidence = live_evidence(live);
        judge
    }

    /// [`Judge::new`] without its [`live_evidence`]: the caller notes it while indexing the
    /// live read ([`index_live`]) and sets it.
    pub(super) fn unproven(
        config: Arc<Config>,
        target: &str,
        declared: Vec<Declared>,
        live: &LiveRead,
        find_unmanaged: bool,
    ) -> Judge {
        // Before any problem is scrubbed of the secrets registered.
        let registered = crate::model::redact::registered();
        let scopes = Scopes::new(&declared, &live.objects, &live.scopes);
        let mut problems = Vec::new();
        let mut index: HashMap<u128, usize, foldhash::fast::RandomState> =
            HashMap::with_capacity_and_hasher(declared.len(), Default::default());
        let mut places = Vec::with_capacity(declared.len());
        let mut declared_namespaces: HashSet<String> = HashSet::new();
        let mut declared_cluster_kinds: HashSet<GroupKind> = HashSet::new();
        // Declarations come a source at a time: its default namespace is looked up once a run.
        let mut defaults: Option<(&str, Option<&str>)> = None;
        for (i, item) in declared.iter().enumerate() {
            let default_ns = match defaults {
                Some((source, default)) if source == item.source => default,
                _ => {
                    let default = default_namespace(&config, &item.source);
                    defaults = Some((&item.source, default));
                    default
                }
            };
            let object = &item.object;
            let namespace = declared_namespace(&scopes, object, default_ns);
            let id = identity(&object.group, &object.kind, namespace, &object.name);
            if let Some(&first) = index.get(&id) {
                let first: &Declared = &declared[first];
                let key = object.key_with_namespace(namespace.map(str::to_string));
                problems.push(
                    Problem::new(
                        Severity::Error,
                        Code::JudgeDeclaredTwice,
                        format!(
                            "{key} is declared twice (first in {} of source {}); the first is used",
                            first.object.origin, first.source
                        ),
                    )
                    .source(&item.source)
                    .at(&item.object.origin.file, item.object.origin.line),
                );
                continue;
            }
            index.insert(id, i);
            places.push((i, id));
            // Copied once per namespace or kind, not once per object.
            match namespace {
                Some(namespace) => {
                    if !declared_namespaces.contains(namespace) {
                        declared_namespaces.insert(namespace.to_string());
                    }
                }
                None => {
                    if !declared_cluster_kinds
                        .iter()
                        .any(|gk| gk.group == object.group && gk.kind == object.kind)
                    {
                        declared_cluster_kinds.insert(GroupKind {
                            group: object.group.clone(),
                            kind: object.kind.clone(),
                        });
                    }
                }
            }
        }
        // The target's own unmanaged scope: namespaces and kinds it names, or every kind.
        let mut all_kinds = false;
        if let Some(crate::config::LiveSettings::Kubernetes(kube)) =
            config.target(target).map(|t| &t.live)
        {
            declared_namespaces.extend(kube.unmanaged_namespaces.iter().cloned());
            declared_cluster_kinds.extend(kube.unmanaged_kinds.iter().map(|spec| {
                let (kind, group) = spec.split_once('.').unwrap_or((spec.as_str(), ""));
                GroupKind {
                    group: group.to_string(),
                    kind: kind.to_string(),
                }
            }));
            all_kinds = kube.unmanaged_all;
        }
        let mut schemas = diff::defaults::Schemas::builtin();
        let mut crds = Fingerprint::new();
        for object in declared.iter().map(|d| &d.object).filter(|o| is_crd(o)) {
            crds.object(object);
            schemas.add_crd(&object.value());
        }
        for object in live.objects.iter().filter(|o| is_crd(o)) {
            schemas.add_crd(&object.value());
        }
        for document in &live.openapi {
            schemas.add_openapi(document);
        }
        Judge {
            config,
            target: target.to_string(),
            declared,
            index,
            order: std::sync::OnceLock::new(),
            places,
            scopes,
            declared_namespaces,
            declared_cluster_kinds,
            all_kinds,
            unserved: live.unserved.clone(),
            unreadable: live.unreadable.iter().map(|u| u.gk.clone()).collect(),
            skipped: live.skipped.clone(),
            find_unmanaged,
            schemas,
            problems,
            aws_declared: Vec::new(),
            reads: Vec::new(),
            evidence: LiveEvidence::default(),
            declared_crds: crds.finish(),
            declared_prints: std::sync::OnceLock::new(),
            sorted: std::sync::OnceLock::new(),
            registered,
            serial: {
                static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            },
        }
    }

    /// Whether this judge, built for an earlier scan, judges this one as a new one would, the
    /// live evidence aside (checked while indexing the live read): the same configuration
    /// (the same `Arc`), the same source reads, unmanaged objects looked for alike, and no
    /// secret registered since (its problems were scrubbed of those there were).
    pub(super) fn still_holds(
        &self,
        config: &Arc<Config>,
        reads: &[u64],
        find_unmanaged: bool,
    ) -> bool {
        Arc::ptr_eq(&self.config, config)
            && self.registered == crate::model::redact::registered()
            && !reads.is_empty()
            && self.reads == reads
            && self.find_unmanaged == find_unmanaged
    }

    /// A fingerprint of its declarations (Kubernetes and AWS), as [`declarations_print`] makes
    /// one of a list: what a kept judge is checked against in debug builds.
    pub(super) fn declarations_print(&self) -> (u128, u128) {
        (
            declarations_print(self.declared.iter()),
            declarations_print(self.aws_declared.iter()),
        )
    }

    /// Declared identities, in declaration order.
    pub fn declared_keys(&self) -> &[ResourceKey] {
        self.order
            .get_or_init(|| (0..self.places.len()).map(|at| self.key_at(at)).collect())
    }

    /// The identity of the `at`th declared identity (in declaration order).
    fn key_at(&self, at: usize) -> ResourceKey {
        let item = &self.declared[self.places[at].0];
        let default = default_namespace(&self.config, &item.source);
        item.object.key_with_namespace(
            declared_namespace(&self.scopes, &item.object, default).map(str::to_string),
        )
    }

    /// The `at`th declared identity's kind, namespace and name, borrowed.
    fn names_at(&self, at: usize) -> (&str, Option<&str>, &str) {
        let item = &self.declared[self.places[at].0];
        let default = default_namespace(&self.config, &item.source);
        let namespace = declared_namespace(&self.scopes, &item.object, default);
        (&item.object.kind, namespace, &item.object.name)
    }

    /// Whether git declares this identity.
    pub fn declares(&self, key: &ResourceKey) -> bool {
        self.index.contains_key(&key_identity(key))
    }

    /// How many declared objects are of a kind.
    pub fn declared_of(&self, gk: &GroupKind) -> usize {
        self.places
            .iter()
            .map(|&(i, _)| &self.declared[i].object)
            .filter(|o| o.group == gk.group && o.kind == gk.kind)
            .count()
    }

    /// The identity a live object has in this target.
    pub fn live_key(&self, object: &Object) -> ResourceKey {
        object.key_with_namespace(self.scopes.namespace_of(object, None))
    }

    /// Judges a declared object against its live counterpart (`None`: not live). `None` when its
    /// kind could not be read: nothing can be said.
    pub fn judge_declared(
        &self,
        key: &ResourceKey,
        live: Option<&Object>,
        registry: &ignore::Registry<'_>,
    ) -> Option<ResourceReport> {
        self.judge_declared_noting(key, live, registry, &mut Vec::new())
    }

    /// The fingerprint of a declared identity's declaration: its identity, source and object.
    fn declared_print(&self, at: usize) -> u128 {
        let (i, id) = self.places[at];
        Fingerprint::new()
            .bytes(&id.to_le_bytes())
            .str(&self.declared[i].source)
            .object(&self.declared[i].object)
            .finish()
    }

    /// Every declared identity's [`Judge::declared_print`], made once per judge.
    fn declared_prints(&self) -> &[u128] {
        self.declared_prints.get_or_init(|| {
            (0..self.places.len())
                .into_par_iter()
                .map(|at| self.declared_print(at))
                .collect()
        })
    }

    /// The fingerprint of what judging a pair reads beside the environment: its declaration's
    /// ([`Judge::declared_print`]) and its live object's, if any.
    fn pair_fingerprint(&self, declared: u128, live: Option<u128>) -> u128 {
        let mut print = Fingerprint::new();
        print.bytes(&declared.to_le_bytes());
        match live {
            Some(object) => print.number(1).bytes(&object.to_le_bytes()),
            None => print.number(0),
        };
        print.finish()
    }

    /// [`Judge::judge_declared`], noting the ignore rules the pair counts as used.
    fn judge_declared_noting(
        &self,
        key: &ResourceKey,
        live: Option<&Object>,
        registry: &ignore::Registry<'_>,
        noted: &mut Vec<usize>,
    ) -> Option<ResourceReport> {
        let item = &self.declared[*self.index.get(&key_identity(key))?];
        let gk = key.group_kind();
        if self.unreadable.contains(&gk) || self.skipped.contains(key) {
            return None;
        }
        let object = &item.object;
        let report = ResourceReport::new(&self.target, &object.api_version, key, Status::Missing);
        let mut report = match live {
            Some(live_object) => {
                let desired_value = object.value();
                let live_value = live_object.value();
                let verdict = diff::compare(
                    &key.group,
                    &key.kind,
                    &desired_value,
                    &live_value,
                    live_object.applied.as_deref(),
                    &self.config.drift,
                    &self.schemas,
                );
                let verdict = registry.apply_noting(
                    &self.target,
                    key,
                    &desired_value,
                    &live_value,
                    verdict,
                    noted,
                );
                let health = crate::health::of(&key.group, &key.kind, &live_value);
                ResourceReport {
                    health: Some(health),
                    ..report.judged(verdict)
                }
            }
            None => ResourceReport {
                reason: self
                    .unserved
                    .contains(&gk)
                    .then(|| "kind not served by the cluster".to_string()),
                health: Some(crate::health::Health::missing()),
                ..report
            },
        };
        report.source = Some(SourceRef::of(item));
        Some(report)
    }

    /// Judges a live object git does not declare: unmanaged when it is in scope (a namespace git
    /// declares objects in, or a cluster-scoped kind git declares), not generated, not excluded.
    pub fn judge_unmanaged(
        &self,
        key: &ResourceKey,
        object: &Object,
        system: &SystemContext,
    ) -> Option<ResourceReport> {
        if !self.find_unmanaged || self.declares(key) {
            return None;
        }
        let in_scope = match &key.namespace {
            Some(ns) => self.declared_namespaces.contains(ns),
            None => self.all_kinds || self.declared_cluster_kinds.contains(&key.group_kind()),
        };
        if !in_scope
            || system.is_generated(object)
            || self
                .config
                .drift
                .unmanaged_exclude
                .iter()
                .any(|s| s.matches(&self.target, key))
        {
            return None;
        }
        Some(ResourceReport {
            health: Some(crate::health::of(&key.group, &key.kind, &object.value())),
            ..ResourceReport::new(&self.target, &object.api_version, key, Status::Unmanaged)
        })
    }
}

/// A fingerprint of everything beside the pair that judging a declared object reads: the
/// target, the live read's completeness, the custom resource definitions and OpenAPI documents
/// defaults come from, the kinds' scopes, the kinds unserved or unreadable, the objects skipped,
/// and how many secrets health reasons are scrubbed of. A re-scan reuses earlier judgements only
/// while it is the same.
fn environment(judge: &Judge, live: &LiveRead) -> u128 {
    Fingerprint::new()
        .str(&judge.target)
        .number(u64::from(live.complete))
        .number(crate::model::redact::registered() as u64)
        .bytes(&judge.declared_crds.to_le_bytes())
        .bytes(&judge.evidence.judgements.to_le_bytes())
        .finish()
}

/// Whether an object is a custom resource definition.
fn is_crd(object: &Object) -> bool {
    object.kind == "CustomResourceDefinition" && object.group == "apiextensions.k8s.io"
}

/// A fingerprint of declarations, in order: each one's source and object.
pub(super) fn declarations_print<'a>(declared: impl Iterator<Item = &'a Declared>) -> u128 {
    let mut print = Fingerprint::new();
    for item in declared {
        print.str(&item.source).object(&item.object);
    }
    print.finish()
}

/// A fingerprint of what a judge reads of a live state beside each pair: which kinds appear
/// with and without a namespace (scope evidence), the custom resource definitions and OpenAPI
/// documents defaults come from, discovery's scopes, the kinds unserved or unreadable, and the
/// objects skipped.
pub(super) fn live_evidence(live: &LiveRead) -> LiveEvidence {
    let mut evidence = Evidence::default();
    for object in &live.objects {
        evidence.see(object);
    }
    evidence.finish(live)
}

/// [`live_evidence`]: fingerprints of what a judge reads of a live state beside each pair.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveEvidence {
    /// The kinds seen with and without a namespace: they settle identities (a change makes
    /// new ones, so the judgements' memo need not watch it).
    scopes: u128,
    /// Everything else: what judgements read (definitions, discovery, kinds unserved or
    /// unreadable, objects skipped).
    judgements: u128,
}

/// [`live_evidence`] gathered object by object, in a pass that reads the objects anyway.
#[derive(Default)]
struct Evidence<'a> {
    seen: HashSet<(&'a str, &'a str, bool), foldhash::fast::RandomState>,
    /// A run of one kind and scope is noted once.
    last: Option<(&'a str, &'a str, bool)>,
    crds: Vec<&'a Object>,
}

impl<'a> Evidence<'a> {
    fn see(&mut self, object: &'a Object) {
        let this = (
            object.group.as_str(),
            object.kind.as_str(),
            object.namespace.is_some(),
        );
        if self.last != Some(this) {
            self.last = Some(this);
            self.seen.insert(this);
        }
        if is_crd(object) {
            self.crds.push(object);
        }
    }

    fn finish(self, live: &LiveRead) -> LiveEvidence {
        let mut seen: Vec<_> = self.seen.into_iter().collect();
        seen.sort_unstable();
        let mut scopes = Fingerprint::new();
        scopes.number(seen.len() as u64);
        for (group, kind, namespaced) in seen {
            scopes.str(group).str(kind).number(u64::from(namespaced));
        }
        let mut print = Fingerprint::new();
        print.number(self.crds.len() as u64);
        for object in self.crds {
            print.object(object);
        }
        print.number(live.openapi.len() as u64);
        for document in &live.openapi {
            print.json(document);
        }
        print.number(live.scopes.len() as u64);
        for (gk, scope) in &live.scopes {
            print.str(&gk.group).str(&gk.kind).number(*scope as u64);
        }
        print.number(live.unserved.len() as u64);
        for gk in &live.unserved {
            print.str(&gk.group).str(&gk.kind);
        }
        print.number(live.unreadable.len() as u64);
        for unreadable in &live.unreadable {
            print.str(&unreadable.gk.group).str(&unreadable.gk.kind);
        }
        print.number(live.skipped.len() as u64);
        for key in &live.skipped {
            print
                .str(&key.group)
                .str(&key.kind)
                .opt(key.namespace.as_deref())
                .str(&key.name);
        }
        LiveEvidence {
            scopes: scopes.finish(),
            judgements: print.finish(),
        }
    }
}

/// How one declared pair was judged this time.
enum Outcome {
    /// As the memo had it (its report shared), at that place of the memo.
    Reused(Option<Arc<ResourceReport>>, usize),
    /// Judged now, noting the ignore rules it used.
    Judged(Option<Arc<ResourceReport>>, Vec<usize>),
}

/// The fingerprint of an identity: what a target's declared and live objects and its memo are
/// indexed by (a lookup compares two numbers, not four names kept elsewhere in memory).
fn identity(group: &str, kind: &str, namespace: Option<&str>, name: &str) -> u128 {
    let mut print = Fingerprint::new();
    print.str(group).str(kind).opt(namespace).str(name);
    print.finish()
}

/// A source's default namespace (`None` for a source not configured).
fn default_namespace<'c>(config: &'c Config, source: &str) -> Option<&'c str> {
    config
        .sources
        .iter()
        .find(|s| s.name == source)
        .map(|s| s.namespace.as_str())
}

/// The namespace a declared object is judged in ([`Scopes::namespace_of`]), borrowed: none for
/// cluster-scoped kinds, its own, or its source's `default`.
fn declared_namespace<'a>(
    scopes: &Scopes,
    object: &'a Object,
    default: Option<&'a str>,
) -> Option<&'a str> {
    if scopes.is_cluster_scoped(object) {
        None
    } else {
        object.namespace.as_deref().or(default)
    }
}

/// [`identity`] of a key.
fn key_identity(key: &ResourceKey) -> u128 {
    identity(&key.group, &key.kind, key.namespace.as_deref(), &key.name)
}

/// A target's live objects by identity under a judge's scopes, each with its place in the read;
/// the objects met twice; and the [`live_evidence`] (and, asked for, each object's fingerprint),
/// taken in the same pass: each pass over every object's names costs its cache misses.
pub struct LiveIndex {
    by_identity: HashMap<u128, usize, foldhash::fast::RandomState>,
    problems: Vec<Problem>,
    /// Each object's fingerprint ([`Fingerprint::object`]) where a memo compares pairs by
    /// them: taken once for the pairs and the rules alike.
    pub prints: Vec<u128>,
    /// [`live_evidence`] of the read.
    pub evidence: LiveEvidence,
}

/// Indexes a live read for `judge` ([`LiveIndex`]), with the objects' fingerprints if `prints`.
pub fn index_live(judge: &Judge, live: &LiveRead, prints: bool) -> LiveIndex {
    let mut problems = Vec::new();
    let mut printed = Vec::with_capacity(if prints { live.objects.len() } else { 0 });
    let mut evidence = Evidence::default();
    let mut live_index: HashMap<u128, usize, foldhash::fast::RandomState> =
        HashMap::with_capacity_and_hasher(live.objects.len(), Default::default());
    for (at, object) in live.objects.iter().enumerate() {
        evidence.see(object);
        if prints {
            printed.push(Fingerprint::new().object(object).finish());
        }
        let key = identity(
            &object.group,
            &object.kind,
            judge.scopes.namespace_ref(object),
            &object.name,
        );
        if let Some(&first) = live_index.get(&key) {
            problems.push(
                Problem::new(
                    Severity::Warning,
                    Code::JudgeLiveTwice,
                    format!(
                        "{} appears twice in the live state (first in {}); the first is used",
                        judge.live_key(object),
                        live.objects[first].origin
                    ),
                )
                .target(&judge.target)
                .at(&object.origin.file, object.origin.line),
            );
            continue;
        }
        live_index.insert(key, at);
    }
    LiveIndex {
        by_identity: live_index,
        problems,
        evidence: evidence.finish(live),
        prints: printed,
    }
}

/// Matches declared with live objects of one target (`indexed`: the live objects by identity)
/// and judges every pair, in parallel, then looks for unmanaged objects. With a `memo`, a pair
/// whose fingerprint (from `prints`, [`LiveIndex::prints`]) is the one the memo holds is not judged
/// again: its earlier judgement is reused (the same report, shared), and the memo is left
/// holding this scan's judgements.
pub fn judge_target(
    judge: &Judge,
    live: &LiveRead,
    (indexed, prints): (LiveIndex, &[u128]),
    registry: &ignore::Registry<'_>,
    memo: Option<&mut JudgeMemo>,
) -> TargetJudgement {
    let LiveIndex {
        by_identity: live_index,
        problems,
        ..
    } = indexed;
    if !live.complete {
        // Without a live state nothing can be called missing or unmanaged; the error says why.
        return TargetJudgement {
            resources: Vec::new(),
            problems,
        };
    }
    // Where each declared identity's live object is, if anywhere.
    let matches: Vec<Option<usize>> = judge
        .places
        .iter()
        .map(|(_, id)| live_index.get(id).copied())
        .collect();
    // Each pair is judged on its own, in parallel: parse both, compare, filter, drop.
    let mut sorted = None;
    let resources: Vec<Arc<ResourceReport>> = match memo {
        None => {
            let line = crate::progress::Line::start(
                &format!("judge {}", judge.target),
                Some(matches.len() as u64),
                "objects",
            );
            let judged = (0..matches.len())
                .into_par_iter()
                .map(|at| {
                    let live = matches[at].map(|i| &live.objects[i]);
                    line.inc(1);
                    judge
                        .judge_declared(&judge.key_at(at), live, registry)
                        .map(Arc::new)
                })
                .collect();
            in_report_order(judge, judged, &mut sorted)
        }
        Some(memo) => {
            // Taken here when the caller has none for this read.
            let taken: Vec<u128>;
            let prints = if prints.len() == live.objects.len() {
                prints
            } else {
                taken = live
                    .objects
                    .par_iter()
                    .map(|o| Fingerprint::new().object(o).finish())
                    .collect();
                &taken
            };
            let judged = judge_remembering(
                judge,
                environment(judge, live),
                (&live.objects, prints, &matches),
                registry,
                memo,
            );
            in_report_order(judge, judged, &mut memo.sorted)
        }
    };
    // Live objects no declaration names: unmanaged, where in scope.
    let mut declared = vec![false; live.objects.len()];
    for &at in matches.iter().flatten() {
        declared[at] = true;
    }
    // Gathered when an undeclared object first needs it (an Endpoints or a volume claim).
    let system = std::cell::OnceCell::new();
    let nothing = SystemContext::default();
    let mut unmanaged = Vec::new();
    for &at in live_index.values() {
        if declared[at] {
            continue;
        }
        let object = &live.objects[at];
        let key = judge.live_key(object);
        let system = match SystemContext::read_for(object) {
            true => system.get_or_init(|| SystemContext::from_live(&live.objects)),
            false => &nothing,
        };
        if let Some(report) = judge.judge_unmanaged(&key, object, system) {
            unmanaged.push(Arc::new(report));
        }
    }
    // The declared are in order already: the unmanaged are put in place among them.
    sort_resources(&mut unmanaged);
    let resources = merge_in_order(resources, unmanaged);
    TargetJudgement {
        resources,
        problems,
    }
}

/// Declared resources (each declared identity's, in declaration order) in the report's order,
/// by the order `sorted` holds for the same declarations (a memo's, from an earlier scan), or
/// found now and left there.
fn in_report_order(
    judge: &Judge,
    mut judged: Vec<Option<Arc<ResourceReport>>>,
    sorted: &mut Option<(u128, Vec<u32>)>,
) -> Vec<Arc<ResourceReport>> {
    // Found once per judge (a kept judge has it), else taken from `sorted` when the
    // declarations are in the same order.
    let positions = judge.sorted.get_or_init(|| {
        let mut print = Fingerprint::new();
        print.number(judge.places.len() as u64);
        for (i, id) in &judge.places {
            print
                .bytes(&id.to_le_bytes())
                .str(&judge.declared[*i].object.api_version);
        }
        let print = print.finish();
        if sorted.as_ref().is_none_or(|(p, _)| *p != print) {
            let key = |at: usize| {
                let (kind, namespace, name) = judge.names_at(at);
                let api_version = &judge.declared[judge.places[at].0].object.api_version;
                super::identity_key(kind, namespace, name, api_version)
            };
            let mut positions: Vec<u32> = (0..judge.places.len() as u32).collect();
            positions.sort_by(|a, b| key(*a as usize).cmp(&key(*b as usize)));
            *sorted = Some((print, positions));
        }
        sorted.as_ref().map(|(_, p)| p.clone()).unwrap_or_default()
    });
    positions
        .iter()
        .filter_map(|&at| judged[at as usize].take())
        .collect()
}

/// Two lists in the report's order, merged: `few` put in place among `many`.
fn merge_in_order(
    many: Vec<Arc<ResourceReport>>,
    few: Vec<Arc<ResourceReport>>,
) -> Vec<Arc<ResourceReport>> {
    if few.is_empty() {
        return many;
    }
    let mut out = Vec::with_capacity(many.len() + few.len());
    let mut rest = &many[..];
    for report in few {
        let before =
            rest.partition_point(|r| super::identity_order(r, &report) == std::cmp::Ordering::Less);
        out.extend_from_slice(&rest[..before]);
        rest = &rest[before..];
        out.push(report);
    }
    out.extend_from_slice(rest);
    out
}

/// Judges the declared pairs whose fingerprint the memo does not hold, reuses the others, and
/// leaves the memo holding this scan's judgements (of the pairs there are now, nothing else).
/// Returns each declared identity's judgement, in declaration order (`None`: nothing to say);
/// `objects` are the live objects and `matches` where each declared identity's is among them.
fn judge_remembering(
    judge: &Judge,
    environment: u128,
    (objects, prints, matches): (&[Object], &[u128], &[Option<usize>]),
    registry: &ignore::Registry<'_>,
    memo: &mut JudgeMemo,
) -> Vec<Option<Arc<ResourceReport>>> {
    if memo.environment != environment {
        memo.pairs.clear();
        memo.ids.clear();
        memo.environment = environment;
    }
    let mut previous = std::mem::take(&mut memo.pairs);
    // Placed for this judge: a pair's judgement is at its place. Else found by identity.
    let same_places = memo.placed_for == judge.serial && previous.len() == judge.places.len();
    let by_identity: HashMap<u128, usize, foldhash::fast::RandomState> = if same_places {
        HashMap::default()
    } else {
        memo.ids
            .iter()
            .enumerate()
            .map(|(i, id)| (*id, i))
            .collect()
    };
    let earlier_at = |at: usize| -> Option<usize> {
        if same_places {
            Some(at)
        } else {
            by_identity.get(&judge.places[at].1).copied()
        }
    };
    let declared_prints = judge.declared_prints();
    let outcomes: Vec<(u128, Outcome)> = {
        let previous = &previous;
        (0..judge.places.len())
            .into_par_iter()
            .map(|at| {
                let live = matches[at].map(|i| &objects[i]);
                let inputs =
                    judge.pair_fingerprint(declared_prints[at], matches[at].map(|i| prints[i]));
                let earlier = earlier_at(at).and_then(|from| {
                    previous[from]
                        .as_ref()
                        .filter(|j| j.inputs == inputs)
                        .map(|j| (j, from))
                });
                match earlier {
                    Some((earlier, from)) => {
                        registry.mark(&earlier.ignore_used);
                        (inputs, Outcome::Reused(earlier.report.clone(), from))
                    }
                    None => {
                        let mut noted = Vec::new();
                        let key = judge.key_at(at);
                        let report = judge.judge_declared_noting(&key, live, registry, &mut noted);
                        (inputs, Outcome::Judged(report.map(Arc::new), noted))
                    }
                }
            })
            .collect()
    };
    memo.reused = 0;
    memo.judged = 0;
    // This scan's judgements, placed for this judge (pairs gone since are left behind).
    let mut pairs = Vec::with_capacity(outcomes.len());
    let mut resources = Vec::with_capacity(outcomes.len());
    for (inputs, outcome) in outcomes {
        let report = match outcome {
            // Its judgement moves to its new place as it is.
            Outcome::Reused(report, from) => {
                memo.reused += 1;
                pairs.push(previous[from].take());
                report
            }
            Outcome::Judged(report, ignore_used) => {
                memo.judged += 1;
                pairs.push(Some(Judgement {
                    inputs,
                    report: report.clone(),
                    ignore_used,
                }));
                report
            }
        };
        resources.push(report);
    }
    drop(previous);
    memo.held = pairs.len();
    memo.pairs = pairs;
    if !same_places {
        memo.ids = judge.places.iter().map(|(_, id)| *id).collect();
        memo.placed_for = judge.serial;
    }
    resources
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Scope;
    use serde_json::json;

    fn config() -> Arc<Config> {
        Arc::new(
            Config::from_str(
                "sources:\n  - name: apps\n    repo: .\n    target: prod\ntargets:\n  - name: prod\n    snapshot: ./live\n",
                std::path::Path::new("/etc/gitdrift.yaml"),
                std::path::Path::new("/etc"),
                &crate::live::known(),
            )
            .unwrap(),
        )
    }

    fn environment_of(live: &LiveRead) -> u128 {
        let judge = Judge::new(config(), "prod", Vec::new(), live, true);
        environment(&judge, live)
    }

    /// Every input beside the pair that a judgement reads moves the environment's fingerprint:
    /// a re-scan then judges every pair again.
    #[test]
    fn the_environment_covers_what_judgements_read_beside_the_pair() {
        let base = LiveRead::empty();
        let before = environment_of(&base);
        assert_eq!(before, environment_of(&base));
        let gk = GroupKind {
            group: "example.com".into(),
            kind: "Widget".into(),
        };
        let crd = crate::manifest::object_from_value(
            "live",
            json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                   "metadata": {"name": "widgets.example.com"}, "spec": {"group": "example.com"}}),
        )
        .unwrap();
        let mut changes: Vec<(&str, LiveRead)> = Vec::new();
        let mut read = base.clone();
        read.objects.push(crd.clone());
        changes.push(("a custom resource definition", read));
        let mut read = base.clone();
        let mut edited = crd;
        edited.body = crate::model::Body::Tree(
            json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                   "metadata": {"name": "widgets.example.com"}, "spec": {"group": "example.org"}}),
        );
        edited.body.freeze();
        read.objects.push(edited);
        changes.push(("the definition edited", read));
        let mut read = base.clone();
        read.openapi
            .push(Arc::new(json!({"components": {"schemas": {}}})));
        changes.push(("an OpenAPI document", read));
        let mut read = base.clone();
        read.scopes.insert(gk.clone(), Scope::Cluster);
        changes.push(("a kind's scope", read));
        let mut read = base.clone();
        read.unserved.insert(gk.clone());
        changes.push(("a kind unserved", read));
        let mut read = base.clone();
        read.unreadable.push(crate::live::Unreadable {
            gk: gk.clone(),
            code: Code::KubeForbidden,
            message: "forbidden".into(),
        });
        changes.push(("a kind unreadable", read));
        let mut read = base.clone();
        read.skipped.insert(ResourceKey {
            group: gk.group.clone(),
            kind: gk.kind.clone(),
            namespace: None,
            name: "w".into(),
        });
        changes.push(("an object skipped", read));
        let mut read = base.clone();
        read.complete = false;
        changes.push(("an incomplete read", read));
        let mut seen = std::collections::HashSet::from([before]);
        for (what, read) in &changes {
            assert!(
                seen.insert(environment_of(read)),
                "{what} left the environment's fingerprint as it was"
            );
        }
        // A secret registered since: health reasons judged before were scrubbed without it.
        crate::model::redact::register("environment-test-secret");
        assert_ne!(environment_of(&base), before, "a new secret registered");
    }
}
