//! The field-by-field comparison of one declared object with its live counterpart. Declared
//! fields must match after normalization; live-only fields are drift only in content maps, as
//! list elements, where an imperative manager set them, or where the last apply from git set
//! them (three-way evidence: the `last-applied-configuration` annotation, or an `Apply`
//! manager of git's fields) — git dropped those, and the next sync would prune them.

use std::cell::OnceCell;
use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::owners::{Ownership, Reach};
use super::path::Seg;
use super::{Reason, quantity, rules};

/// The annotation `kubectl apply` (client-side, and tools that apply like it) leaves on what it
/// applied: the configuration as last applied.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// A difference before attribution, redaction and ignore rules.
#[derive(Clone, Debug)]
pub struct RawDrift {
    /// Where, in the live object.
    pub path: Vec<Seg>,
    /// Declared value (`null`: not declared).
    pub desired: Value,
    /// Live value (`null`: absent).
    pub live: Value,
    /// For live-only fields set by hand: the imperative manager and when.
    pub set_by: Option<(String, Option<String>)>,
    /// Where, in the declared object, when that differs from `path` (list elements matched by
    /// key at other positions; `-` for an element only the live list has).
    pub git_path: Option<Vec<Seg>>,
    /// What happened to the field.
    pub reason: Reason,
}

/// Walks a declared object and its live counterpart together.
pub struct Comparer<'a> {
    kind: &'a str,
    group: &'a str,
    desired_root: &'a Value,
    live_root: &'a Value,
    owners: &'a Ownership<'a>,
    imperative: &'a BTreeSet<String>,
    check_imperative: bool,
    /// `Apply` managers of git's fields (server-side apply's evidence of the last sync),
    /// found on first need.
    appliers: OnceCell<BTreeSet<String>>,
    /// The shape of the last applied configuration (see [`applied_shape`]), as text.
    applied_text: Option<&'a str>,
    /// ... parsed on first need (`None`: the object has none).
    applied: OnceCell<Option<Value>>,
    out: Vec<RawDrift>,
    /// Along the current path: at which depths the declared list position differs from the
    /// live one (`None`: the element is only live).
    git_index: Vec<(usize, Option<usize>)>,
}

impl<'a> Comparer<'a> {
    /// A comparer for one object pair; `applied` is the live object's
    /// [`crate::model::Object::applied`].
    pub fn new(
        kind: &'a str,
        group: &'a str,
        desired_root: &'a Value,
        live_root: &'a Value,
        applied: Option<&'a str>,
        owners: &'a Ownership<'a>,
        imperative: &'a BTreeSet<String>,
    ) -> Comparer<'a> {
        Comparer {
            kind,
            group,
            desired_root,
            live_root,
            owners,
            imperative,
            check_imperative: owners.has_any(imperative),
            appliers: OnceCell::new(),
            applied_text: applied,
            applied: OnceCell::new(),
            out: Vec::new(),
            git_index: Vec::new(),
        }
    }

    /// Compares the whole objects and returns the differences in document order.
    pub fn run(mut self) -> Vec<RawDrift> {
        let mut path = Vec::new();
        self.value(&mut path, self.desired_root, self.live_root);
        self.out
    }

    fn drift(&mut self, path: &[Seg], desired: &Value, live: &Value) {
        let reason = match Reason::between(desired, live) {
            Reason::AddedLive if self.applied_evidence(path) => Reason::RemovedFromGit,
            reason => reason,
        };
        self.out.push(RawDrift {
            path: path.to_vec(),
            desired: desired.clone(),
            live: live.clone(),
            set_by: None,
            git_path: self.git_path(path),
            reason,
        });
    }

    /// Whether the last apply from git set the live field at `path`, by either evidence (the
    /// GitOps tools' own marks aside).
    fn applied_evidence(&self, path: &[Seg]) -> bool {
        !rules::is_applier_mark(path) && (self.applied_at(path).is_some() || self.applier_set(path))
    }

    /// Whether git's server-side applier still owns the live field at `path`.
    fn applier_set(&self, path: &[Seg]) -> bool {
        // First the cheap look: does any `Apply` entry name the field at all?
        let Some(key) = path.iter().rev().find_map(Seg::key) else {
            return false;
        };
        if !self.owners.apply_mentions(key) {
            return false;
        }
        let appliers = self.appliers();
        !appliers.is_empty() && self.owners.set_by(self.live_root, path, appliers).is_some()
    }

    fn appliers(&self) -> &BTreeSet<String> {
        self.appliers
            .get_or_init(|| self.owners.git_appliers(self.desired_root))
    }

    /// The last applied configuration's value at a live path, if it has one there. List
    /// elements are found by their merge key (by position in lists without one).
    fn applied_at(&self, path: &[Seg]) -> Option<&Value> {
        let mut node = self
            .applied
            .get_or_init(|| {
                self.applied_text
                    .and_then(|text| serde_json::from_str(text).ok())
            })
            .as_ref()?;
        let mut live = self.live_root;
        for (depth, seg) in path.iter().enumerate() {
            match seg {
                Seg::Key(key) => {
                    node = node.get(key)?;
                    live = live.get(key)?;
                }
                Seg::Index(i) => {
                    let (items, live_items) = (node.as_array()?, live.as_array()?);
                    let element = live_items.get(*i)?;
                    node = match rules::list_kind(&path[..depth], &[], live_items) {
                        rules::ListKind::Keyed(fields) => {
                            let key = element_key(element, fields);
                            items.iter().find(|a| element_key(a, fields) == key)?
                        }
                        rules::ListKind::Positional => items.get(*i)?,
                    };
                    live = element;
                }
                Seg::Missing => return None,
            }
        }
        // An empty mapping or list applied (`kubectl apply` writes `annotations: {}`) set
        // nothing of what is in it now.
        let empty = match node {
            Value::Null => true,
            Value::Object(map) => map.is_empty(),
            Value::Array(items) => items.is_empty(),
            _ => false,
        };
        (!empty).then_some(node)
    }

    /// A live-only field the last applied configuration sets: drift where it sets a value,
    /// searched downwards through mappings it sets only in part.
    fn removed(&mut self, path: &mut Vec<Seg>, live: &Value) {
        let Some(applied) = self.applied_at(path) else {
            return;
        };
        match (applied, live) {
            (Value::Object(applied), Value::Object(map)) => {
                let keys: Vec<String> = applied
                    .keys()
                    .filter(|k| map.get(*k).is_some_and(|v| !v.is_null()))
                    .cloned()
                    .collect();
                for key in keys {
                    path.push(Seg::Key(key.clone()));
                    if !rules::is_bookkeeping(path) && !rules::is_applier_mark(path) {
                        self.removed(path, &map[&key]);
                    }
                    path.pop();
                }
            }
            _ => self.out.push(RawDrift {
                path: path.clone(),
                desired: Value::Null,
                live: live.clone(),
                set_by: None,
                git_path: self.git_path(path),
                reason: Reason::RemovedFromGit,
            }),
        }
    }

    /// The declared object's path for a live path, where it differs.
    fn git_path(&self, path: &[Seg]) -> Option<Vec<Seg>> {
        if self.git_index.is_empty() {
            return None;
        }
        let mut out = path.to_vec();
        for (depth, index) in &self.git_index {
            if let Some(seg) = out.get_mut(*depth) {
                *seg = match index {
                    Some(j) => Seg::Index(*j),
                    None => Seg::Missing,
                };
            }
        }
        (out != path).then_some(out)
    }

    fn value(&mut self, path: &mut Vec<Seg>, desired: &Value, live: &Value) {
        match (desired, live) {
            (Value::Object(d), Value::Object(l)) => self.map(path, d, l),
            (Value::Array(d), Value::Array(l)) => self.list(path, d, l),
            _ => {
                if !self.scalar_equal(path, desired, live) {
                    self.drift(path, desired, live);
                }
            }
        }
    }

    fn map(
        &mut self,
        path: &mut Vec<Seg>,
        desired: &Map<String, Value>,
        live: &Map<String, Value>,
    ) {
        let content = rules::is_content_map(self.kind, self.group, path);
        for (key, d) in desired {
            if d.is_null() {
                continue;
            }
            path.push(Seg::Key(key.clone()));
            if !rules::is_bookkeeping(path)
                && !rules::is_controller_owned(self.kind, self.desired_root, path)
                && !rules::is_server_allocated(path, d)
            {
                match live.get(key) {
                    None | Some(Value::Null) => {
                        // In content maps an empty value, `null` and no key are one: the API
                        // server returns empty Secret bytes as `null`.
                        if (content && !is_empty_value(d))
                            || (!content && !rules::is_dropped_at(path, d))
                        {
                            self.drift(path, d, &Value::Null);
                        }
                    }
                    Some(l) => self.value(path, d, l),
                }
            }
            path.pop();
        }
        for (key, l) in live {
            if desired.get(key).is_some_and(|d| !d.is_null()) || l.is_null() {
                continue;
            }
            path.push(Seg::Key(key.clone()));
            if !rules::is_bookkeeping(path) {
                if content {
                    if !is_empty_value(l) {
                        self.drift(path, &Value::Null, l);
                    }
                } else if !rules::is_applier_mark(path) && self.applied_at(path).is_some() {
                    self.removed(path, l);
                } else if !rules::is_applier_mark(path) && self.applier_set(path) {
                    let appliers = self.appliers().clone();
                    self.live_only(path, l, &appliers, Reason::RemovedFromGit);
                } else if self.check_imperative {
                    self.live_only(path, l, self.imperative, Reason::AddedLive);
                }
            }
            path.pop();
        }
    }

    /// A live-only field: drift where one of `managers` set it, searched downwards to the level
    /// the manager set whole.
    fn live_only(
        &mut self,
        path: &mut Vec<Seg>,
        live: &Value,
        managers: &BTreeSet<String>,
        reason: Reason,
    ) {
        let Some((entry, reach)) = self.owners.set_by(self.live_root, path, managers) else {
            return;
        };
        match (live, reach) {
            (Value::Object(map), Reach::Below) => {
                for (key, child) in map {
                    path.push(Seg::Key(key.clone()));
                    let mark = reason == Reason::RemovedFromGit && rules::is_applier_mark(path);
                    if !rules::is_bookkeeping(path) && !mark {
                        self.live_only(path, child, managers, reason);
                    }
                    path.pop();
                }
            }
            (Value::Array(items), Reach::Below) => {
                for (i, child) in items.iter().enumerate() {
                    path.push(Seg::Index(i));
                    self.live_only(path, child, managers, reason);
                    path.pop();
                }
            }
            _ => self.out.push(RawDrift {
                git_path: self.git_path(path),
                path: path.clone(),
                desired: Value::Null,
                live: live.clone(),
                set_by: Some((entry.manager.to_string(), entry.time.map(str::to_string))),
                reason,
            }),
        }
    }

    fn list(&mut self, path: &mut Vec<Seg>, desired: &[Value], live: &[Value]) {
        let scalar = |v: &Value| !v.is_object() && !v.is_array();
        if desired.iter().all(scalar) && live.iter().all(scalar) {
            let equal = if rules::is_set(path) {
                desired
                    .iter()
                    .all(|d| live.iter().any(|l| self.scalar_equal(path, d, l)))
            } else {
                desired.len() == live.len()
                    && desired
                        .iter()
                        .zip(live)
                        .all(|(d, l)| self.scalar_equal(path, d, l))
            };
            if !equal {
                self.drift(
                    path,
                    &Value::Array(desired.to_vec()),
                    &Value::Array(live.to_vec()),
                );
            }
            return;
        }
        match rules::list_kind(path, desired, live) {
            rules::ListKind::Keyed(fields) => {
                let live_keys: Vec<Option<Vec<String>>> =
                    live.iter().map(|l| element_key(l, fields)).collect();
                let mut used = vec![false; live.len()];
                for (j, d) in desired.iter().enumerate() {
                    let key = element_key(d, fields);
                    let found = key.as_ref().and_then(|key| {
                        live_keys
                            .iter()
                            .enumerate()
                            .position(|(i, k)| !used[i] && k.as_ref() == Some(key))
                    });
                    match found {
                        Some(i) => {
                            used[i] = true;
                            self.git_index.push((path.len(), Some(j)));
                            path.push(Seg::Index(i));
                            self.value(path, d, &live[i]);
                            path.pop();
                            self.git_index.pop();
                        }
                        None => {
                            path.push(Seg::Missing);
                            self.drift(path, d, &Value::Null);
                            path.pop();
                        }
                    }
                }
                for (i, l) in live.iter().enumerate() {
                    if !used[i] {
                        // Only live: in git it would be appended.
                        self.git_index.push((path.len(), None));
                        path.push(Seg::Index(i));
                        self.drift(path, &Value::Null, l);
                        path.pop();
                        self.git_index.pop();
                    }
                }
            }
            rules::ListKind::Positional => {
                for i in 0..desired.len().max(live.len()) {
                    match (desired.get(i), live.get(i)) {
                        (Some(d), Some(l)) => {
                            path.push(Seg::Index(i));
                            self.value(path, d, l);
                            path.pop();
                        }
                        (Some(d), None) => {
                            path.push(Seg::Missing);
                            self.drift(path, d, &Value::Null);
                            path.pop();
                        }
                        (None, Some(l)) => {
                            self.git_index.push((path.len(), None));
                            path.push(Seg::Index(i));
                            self.drift(path, &Value::Null, l);
                            path.pop();
                            self.git_index.pop();
                        }
                        (None, None) => {}
                    }
                }
            }
        }
    }

    fn scalar_equal(&self, path: &[Seg], desired: &Value, live: &Value) -> bool {
        if desired == live {
            return true;
        }
        if let (Value::Number(d), Value::Number(l)) = (desired, live)
            && d.as_f64() == l.as_f64()
        {
            return true;
        }
        if rules::is_base64_data(self.kind, self.group, path) {
            return match (desired, live) {
                // A snapshot's stand-in for a secret value (see `live::digest`).
                (Value::String(d), Value::String(l)) if crate::digest::is_marker(l) => {
                    crate::digest::decode_base64(d)
                        .and_then(|bytes| crate::digest::matches(l, &bytes))
                        .unwrap_or(false)
                }
                (Value::String(d), Value::String(l)) => {
                    crate::digest::decode_base64(d).is_some()
                        && crate::digest::decode_base64(d) == crate::digest::decode_base64(l)
                }
                _ => false,
            };
        }
        if rules::is_quantity(path) && quantity::equal(desired, live) {
            return true;
        }
        if rules::is_int_or_string(path) {
            return int_or_string(desired).is_some()
                && int_or_string(desired) == int_or_string(live);
        }
        false
    }
}

/// Fields that identify list elements (the merge keys of [`rules::list_kind`]): kept in the
/// shape of the last applied configuration, so that its elements can be matched.
const MERGE_KEY_FIELDS: &[&str] = &[
    "name",
    "containerPort",
    "port",
    "protocol",
    "mountPath",
    "devicePath",
    "conditionType",
    "ip",
    "topologyKey",
    "whenUnsatisfiable",
    "type",
    "uid",
];

/// The shape of a live object's `last-applied-configuration` annotation: which fields the last
/// apply set, every value replaced by `true` but the merge keys of list elements — no secret
/// value survives it. Compact JSON; `None` without the annotation, when it does not parse, or
/// when it holds a whole live object (`uid`, `resourceVersion`, `status`: written by `kubectl
/// edit`, not by an apply from git).
pub fn applied_shape(live: &Value) -> Option<Box<str>> {
    let text = live
        .pointer("/metadata/annotations")?
        .get(LAST_APPLIED)?
        .as_str()?;
    let mut applied: Value = serde_json::from_str(text).ok()?;
    // A Secret applied with `stringData` is stored, and compared, as `data`.
    if applied.get("kind").and_then(Value::as_str) == Some("Secret")
        && let Some(map) = applied.as_object_mut()
        && let Some(Value::Object(string_data)) = map.remove("stringData")
    {
        let data = map
            .entry("data")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(data) = data.as_object_mut() {
            data.extend(string_data);
        }
    }
    // `kubectl edit` and `kubectl create --save-config` write the whole live object there, the
    // server's defaults and bookkeeping included: not what git applied, so no evidence at all.
    let metadata = applied.get("metadata");
    if ["uid", "resourceVersion", "managedFields"].iter().any(|k| {
        metadata
            .and_then(|m| m.get(*k))
            .is_some_and(|v| !v.is_null())
    }) || applied.get("status").is_some_and(|v| !v.is_null())
    {
        return None;
    }
    fn shape(value: &Value, keep_keys: bool) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let kept = keep_keys
                            && MERGE_KEY_FIELDS.contains(&k.as_str())
                            && !v.is_object()
                            && !v.is_array();
                        (k.clone(), if kept { v.clone() } else { shape(v, false) })
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(|i| shape(i, true)).collect()),
            Value::Null => Value::Null,
            _ => Value::Bool(true),
        }
    }
    serde_json::to_string(&shape(&applied, false))
        .ok()
        .map(String::into_boxed_str)
}

/// A content map's empty value (`""`), which equals `null` and an absent key.
fn is_empty_value(value: &Value) -> bool {
    value.as_str().is_some_and(str::is_empty)
}

/// The merge key of a list element, with defaults for absent key fields.
fn element_key(element: &Value, fields: &[(&str, Option<&str>)]) -> Option<Vec<String>> {
    let map = element.as_object()?;
    Some(
        fields
            .iter()
            .map(|(field, default)| match map.get(*field) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => default.unwrap_or("").to_string(),
                Some(other) => other.to_string(),
            })
            .collect(),
    )
}

/// An int-or-string value in a form where `"8080"` and `8080` agree.
fn int_or_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with_applied(applied: Value) -> Value {
        json!({"metadata": {"annotations": {LAST_APPLIED: applied.to_string()}}})
    }

    #[test]
    fn the_applied_shape_keeps_which_fields_and_list_keys_never_values() {
        let live = with_applied(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "annotations": {}},
            "stringData": {"password": "hunter2-very-secret"},
            "spec": {"containers": [{"name": "web", "env": [{"name": "TOKEN", "value": "s3cr3t-value"}],
                     "ports": [{"containerPort": 8080, "protocol": "TCP"}]}]}
        }));
        let shape = applied_shape(&live).unwrap();
        assert!(
            !shape.contains("hunter2") && !shape.contains("s3cr3t"),
            "{shape}"
        );
        let shape: Value = serde_json::from_str(&shape).unwrap();
        assert_eq!(
            shape["data"]["password"], true,
            "a Secret's stringData as data"
        );
        assert_eq!(shape["metadata"]["name"], true);
        let container = &shape["spec"]["containers"][0];
        assert_eq!(container["name"], "web");
        assert_eq!(container["env"][0], json!({"name": "TOKEN", "value": true}));
        assert_eq!(
            container["ports"][0],
            json!({"containerPort": 8080, "protocol": "TCP"})
        );
    }

    #[test]
    fn a_live_object_dumped_into_the_annotation_is_no_evidence() {
        for dump in [
            json!({"metadata": {"name": "x", "uid": "1f0e"}, "spec": {}}),
            json!({"metadata": {"name": "x", "resourceVersion": "42"}}),
            json!({"metadata": {"name": "x"}, "status": {"phase": "Active"}}),
        ] {
            assert_eq!(applied_shape(&with_applied(dump.clone())), None, "{dump}");
        }
        assert_eq!(applied_shape(&json!({"metadata": {}})), None);
        let broken = json!({"metadata": {"annotations": {LAST_APPLIED: "{not json"}}});
        assert_eq!(applied_shape(&broken), None);
    }
}
