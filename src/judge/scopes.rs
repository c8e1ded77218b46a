//! Whether a kind is namespaced, from the best evidence at hand.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use crate::model::{CLUSTER_SCOPED_KINDS, Declared, GroupKind, Object};

/// Decides whether a kind is namespaced: the live system's discovery when it has one; else live
/// evidence (objects seen with or without a namespace), CustomResourceDefinitions declared in
/// git, the built-in table; unknown kinds are namespaced, as most custom resources are.
pub struct Scopes {
    /// Cluster-scoped kinds, each with its groups (looked up once per object: foldhash).
    cluster: HashMap<String, Vec<String>, foldhash::fast::RandomState>,
}

impl Scopes {
    /// Gathers scope evidence.
    pub fn new(
        declared: &[Declared],
        live: &[Object],
        known: &BTreeMap<GroupKind, crate::model::Scope>,
    ) -> Scopes {
        let mut seen_namespaced: HashSet<(&str, &str), foldhash::fast::RandomState> =
            HashSet::default();
        let mut seen_cluster: HashSet<(&str, &str), foldhash::fast::RandomState> =
            HashSet::default();
        // A list read kind by kind comes in runs: a run of one kind and scope is hashed once
        // (a snapshot that interleaves kinds has each object hashed).
        let mut last: Option<(&str, &str, bool)> = None;
        for object in live {
            let gk = (object.group.as_str(), object.kind.as_str());
            let this = (gk.0, gk.1, object.namespace.is_some());
            if last == Some(this) {
                continue;
            }
            last = Some(this);
            if object.namespace.is_some() {
                seen_namespaced.insert(gk);
            } else {
                seen_cluster.insert(gk);
            }
        }
        let mut declared_crds: Vec<(String, String)> = Vec::new();
        for item in declared {
            let object = &item.object;
            if object.group == "apiextensions.k8s.io" && object.kind == "CustomResourceDefinition" {
                let value = object.value();
                let spec = value.get("spec");
                let group = spec.and_then(|s| s.get("group")).and_then(Value::as_str);
                let kind = spec
                    .and_then(|s| s.pointer("/names/kind"))
                    .and_then(Value::as_str);
                let scope = spec.and_then(|s| s.get("scope")).and_then(Value::as_str);
                if let (Some(group), Some(kind), Some("Cluster")) = (group, kind, scope) {
                    declared_crds.push((group.to_string(), kind.to_string()));
                }
            }
        }
        let mut cluster: HashSet<(&str, &str)> = CLUSTER_SCOPED_KINDS.iter().copied().collect();
        cluster.extend(declared_crds.iter().map(|(g, k)| (g.as_str(), k.as_str())));
        for gk in &seen_namespaced {
            if !seen_cluster.contains(gk) {
                cluster.remove(gk);
            }
        }
        cluster.extend(seen_cluster);
        for (gk, scope) in known {
            let pair = (gk.group.as_str(), gk.kind.as_str());
            match scope {
                crate::model::Scope::Cluster => {
                    cluster.insert(pair);
                }
                crate::model::Scope::Namespaced => {
                    cluster.remove(&pair);
                }
            }
        }
        let mut by_kind: HashMap<String, Vec<String>, foldhash::fast::RandomState> =
            HashMap::default();
        for (group, kind) in cluster {
            by_kind
                .entry(kind.to_string())
                .or_default()
                .push(group.to_string());
        }
        Scopes { cluster: by_kind }
    }

    /// Whether an object's kind is cluster-scoped.
    pub fn is_cluster_scoped(&self, object: &Object) -> bool {
        self.cluster
            .get(&object.kind)
            .is_some_and(|groups| groups.contains(&object.group))
    }

    /// A live object's namespace as [`Scopes::namespace_of`] settles it without a default,
    /// borrowed from the object.
    pub fn namespace_ref<'o>(&self, object: &'o Object) -> Option<&'o str> {
        if self.is_cluster_scoped(object) {
            None
        } else {
            object.namespace.as_deref()
        }
    }

    /// The namespace an object belongs to: none for cluster-scoped kinds, its own, or the
    /// source's default.
    pub fn namespace_of(&self, object: &Object, default: Option<&str>) -> Option<String> {
        if self.is_cluster_scoped(object) {
            return None;
        }
        object
            .namespace
            .clone()
            .or_else(|| default.map(str::to_string))
    }
}
