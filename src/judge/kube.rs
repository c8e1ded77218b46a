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
use crate::model::{Code, Declared, GroupKind, Object, Problem, ResourceKey, Severity, SourceRef};

/// Everything needed to judge the objects of one target against what git declares, built once
/// per git revision: the declared objects indexed by identity, the scope of each kind, the
/// namespaces and cluster-scoped kinds in scope for unmanaged detection. A scan judges every
/// object with it once; watch mode keeps it and judges each object again as it changes.
pub struct Judge {
    config: Arc<Config>,
    target: String,
    declared: Vec<Declared>,
    index: HashMap<ResourceKey, usize>,
    order: Vec<ResourceKey>,
    scopes: Scopes,
    declared_namespaces: HashSet<String>,
    declared_cluster_kinds: HashSet<GroupKind>,
    unserved: BTreeSet<GroupKind>,
    unreadable: BTreeSet<GroupKind>,
    /// Live objects that could not be parsed: their declarations are not judged.
    skipped: BTreeSet<ResourceKey>,
    find_unmanaged: bool,
    /// Defaults: the built-in kinds', and those of the CRDs git declares or the cluster serves.
    schemas: diff::defaults::Schemas,
    /// Problems found while indexing (objects declared twice).
    pub problems: Vec<Problem>,
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
        let scopes = Scopes::new(&declared, &live.objects, &live.scopes);
        let mut problems = Vec::new();
        let mut index: HashMap<ResourceKey, usize> = HashMap::with_capacity(declared.len());
        let mut order = Vec::with_capacity(declared.len());
        for (i, item) in declared.iter().enumerate() {
            let default_ns = config
                .sources
                .iter()
                .find(|s| s.name == item.source)
                .map(|s| s.namespace.as_str());
            let key = item
                .object
                .key_with_namespace(scopes.namespace_of(&item.object, default_ns));
            if let Some(&first) = index.get(&key) {
                let first: &Declared = &declared[first];
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
            index.insert(key.clone(), i);
            order.push(key);
        }
        let declared_namespaces = order.iter().filter_map(|k| k.namespace.clone()).collect();
        let declared_cluster_kinds = order
            .iter()
            .filter(|k| k.namespace.is_none())
            .map(ResourceKey::group_kind)
            .collect();
        let mut schemas = diff::defaults::Schemas::builtin();
        let is_crd =
            |o: &Object| o.kind == "CustomResourceDefinition" && o.group == "apiextensions.k8s.io";
        for object in declared
            .iter()
            .map(|d| &d.object)
            .chain(live.objects.iter())
            .filter(|o| is_crd(o))
        {
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
            order,
            scopes,
            declared_namespaces,
            declared_cluster_kinds,
            unserved: live.unserved.clone(),
            unreadable: live.unreadable.iter().map(|u| u.gk.clone()).collect(),
            skipped: live.skipped.clone(),
            find_unmanaged,
            schemas,
            problems,
        }
    }

    /// Declared identities, in declaration order.
    pub fn declared_keys(&self) -> &[ResourceKey] {
        &self.order
    }

    /// Whether git declares this identity.
    pub fn declares(&self, key: &ResourceKey) -> bool {
        self.index.contains_key(key)
    }

    /// How many declared objects are of a kind.
    pub fn declared_of(&self, gk: &GroupKind) -> usize {
        self.order
            .iter()
            .filter(|k| k.group == gk.group && k.kind == gk.kind)
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
        let item = &self.declared[*self.index.get(key)?];
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
                let verdict =
                    registry.apply(&self.target, key, &desired_value, &live_value, verdict);
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
            None => self.declared_cluster_kinds.contains(&key.group_kind()),
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

/// Matches declared with live objects of one target and judges every pair, in parallel, then
/// looks for unmanaged objects.
pub fn judge_target(
    judge: &Judge,
    live: &LiveRead,
    registry: &ignore::Registry<'_>,
) -> TargetJudgement {
    let mut problems = Vec::new();
    let mut live_index: HashMap<ResourceKey, &Object> = HashMap::with_capacity(live.objects.len());
    for object in &live.objects {
        let key = judge.live_key(object);
        if let Some(first) = live_index.get(&key) {
            problems.push(
                Problem::new(
                    Severity::Warning,
                    Code::JudgeLiveTwice,
                    format!(
                        "{key} appears twice in the live state (first in {}); the first is used",
                        first.origin
                    ),
                )
                .target(&judge.target)
                .at(&object.origin.file, object.origin.line),
            );
            continue;
        }
        live_index.insert(key, object);
    }
    if !live.complete {
        // Without a live state nothing can be called missing or unmanaged; the error says why.
        return TargetJudgement {
            resources: Vec::new(),
            problems,
        };
    }
    // Each pair is judged on its own, in parallel: parse both, compare, filter, drop.
    let mut resources: Vec<ResourceReport> = judge
        .declared_keys()
        .par_iter()
        .filter_map(|key| judge.judge_declared(key, live_index.get(key).copied(), registry))
        .collect();
    let system = SystemContext::from_live(&live.objects);
    for (key, object) in &live_index {
        if let Some(report) = judge.judge_unmanaged(key, object, &system) {
            resources.push(report);
        }
    }
    sort_resources(&mut resources);
    TargetJudgement {
        resources,
        problems,
    }
}
