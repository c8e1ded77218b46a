//! The field-by-field comparison of one declared object with its live counterpart. Declared
//! fields must match after normalization; live-only fields are drift only in content maps, as
//! list elements, where an imperative manager set them, or where the last apply from git set
//! them (three-way evidence: the `last-applied-configuration` annotation, or an `Apply`
//! manager of git's fields) — git dropped those, and the next sync would prune them.

use std::cell::OnceCell;
use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::defaults::{Origin, Schemas};
use super::owners::{Ownership, Reach};
use super::path::Seg;
use super::{Discount, DiscountReason, MAX_DISCOUNTS, Reason, quantity, rules};

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
    /// The declared object's API version (`v1` of `apps/v1`), for its schema.
    version: &'a str,
    schemas: &'a Schemas,
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
    /// Also explain every live-only field git does not declare.
    explain: bool,
    /// Differences not counted as drift, with the reason (at most [`MAX_DISCOUNTS`]).
    discounts: Vec<Discount>,
    /// Discounts past the bound, counted.
    more: usize,
    /// Lists of scalars compared as sets in this kind (`drift.unordered`).
    unordered: Vec<&'a [String]>,
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
        static BUILTIN: std::sync::LazyLock<Schemas> = std::sync::LazyLock::new(Schemas::builtin);
        Comparer {
            kind,
            group,
            version: super::defaults::version_of(
                desired_root
                    .get("apiVersion")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
            ),
            schemas: &BUILTIN,
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
            explain: false,
            discounts: Vec::new(),
            more: 0,
            unordered: Vec::new(),
        }
    }

    /// The same comparer, comparing these lists of scalars as sets where they name this kind
    /// (`drift.unordered`).
    pub fn unordered(mut self, rules: &'a [crate::config::drift::Unordered]) -> Comparer<'a> {
        self.unordered = rules
            .iter()
            .filter(|u| u.kind == self.kind && u.group == self.group)
            .flat_map(|u| u.paths.iter().map(Vec::as_slice))
            .collect();
        self
    }

    /// Whether the list at `path` is one `drift.unordered` names.
    fn is_unordered(&self, path: &[Seg]) -> bool {
        self.unordered.iter().any(|pattern| {
            pattern.len() == path.len()
                && pattern.iter().zip(path).all(|(want, have)| match have {
                    Seg::Key(k) => want == "*" || want == k,
                    Seg::Index(i) => want == "*" || *want == i.to_string(),
                    Seg::Missing => want == "*" || want == "-",
                })
        })
    }

    /// The same comparer, explaining every live-only field too (or not).
    pub fn explain(mut self, explain: bool) -> Comparer<'a> {
        self.explain = explain;
        self
    }

    /// The same comparer, with the defaults of these schemas (custom resources' CRDs).
    pub fn schemas(mut self, schemas: &'a Schemas) -> Comparer<'a> {
        self.schemas = schemas;
        self
    }

    /// Compares the whole objects and returns the differences in document order, and what was
    /// discounted (with the count past the bound).
    pub fn run(mut self) -> (Vec<RawDrift>, Vec<Discount>, usize) {
        let mut path = Vec::new();
        self.value(&mut path, self.desired_root, self.live_root);
        (self.out, self.discounts, self.more)
    }

    /// Records a difference that is not drift.
    fn discount(&mut self, path: &[Seg], reason: DiscountReason, detail: String) {
        if self.discounts.len() < MAX_DISCOUNTS {
            self.discounts.push(Discount {
                path: super::path::pointer(path),
                reason,
                detail,
            });
        } else {
            self.more += 1;
        }
    }

    /// The schema's default at a live path, if it has one.
    fn default_at(&self, path: &[Seg]) -> Option<(Origin, super::defaults::DefaultValue<'a>)> {
        self.schemas
            .default_at(self.group, self.kind, self.version, path)
    }

    /// A live-only value the evidence would call drift, that is just what the server gives the
    /// field when git leaves it out: a sync would leave it as it is. Discounted, and `true`.
    fn is_default(&mut self, path: &[Seg], live: &Value) -> bool {
        self.default_discount(path, live, false)
    }

    /// Discounts a live value that is the schema's default at `path`. `any_of` admits defaults
    /// the server picks by another field (`imagePullPolicy`): they explain a live-only field,
    /// but never outweigh evidence, since git's other fields decide what the next sync sets.
    fn default_discount(&mut self, path: &[Seg], live: &Value, any_of: bool) -> bool {
        match self.default_at(path) {
            Some((origin, default))
                if default.matches(live)
                    && (any_of || matches!(default, super::defaults::DefaultValue::One(_))) =>
            {
                let reason = match origin {
                    Origin::Schema => DiscountReason::SchemaDefault,
                    Origin::Server => DiscountReason::ServerDefault,
                };
                let detail = format!("{} is the default", default.describe());
                self.discount(path, reason, detail);
                true
            }
            _ => false,
        }
    }

    /// Explains a live-only field nothing counts as drift: a default, or set by whoever owns it.
    /// Mappings are explained field by field.
    fn explain_live_only(&mut self, path: &mut Vec<Seg>, live: &Value) {
        if self.discounts.len() >= MAX_DISCOUNTS {
            // Past the bound only the count is kept: no lookups for what is not listed.
            self.more += leaves(live);
            return;
        }
        if rules::is_bookkeeping(path) || self.default_discount(path, live, true) {
            return;
        }
        if let Value::Object(map) = live
            && !map.is_empty()
        {
            for (key, child) in map {
                path.push(Seg::Key(key.clone()));
                self.explain_live_only(path, child);
                path.pop();
            }
            return;
        }
        let owners = self.owners.owners(self.live_root, path);
        let detail = match owners.first() {
            Some(entry) => entry.manager.to_string(),
            None => "not declared in git; no managedFields tell who set it".to_string(),
        };
        self.discount(path, DiscountReason::OwnedBy, detail);
    }

    fn drift(&mut self, path: &[Seg], desired: &Value, live: &Value) {
        let reason = match Reason::between(desired, live) {
            Reason::AddedLive if self.applied_evidence(path) => Reason::RemovedFromGit,
            reason => reason,
        };
        if reason == Reason::RemovedFromGit && self.is_default(path, live) {
            return;
        }
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
            _ => {
                if !self.is_default(path, live) {
                    self.out.push(RawDrift {
                        path: path.clone(),
                        desired: Value::Null,
                        live: live.clone(),
                        set_by: None,
                        git_path: self.git_path(path),
                        reason: Reason::RemovedFromGit,
                    });
                }
            }
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
            _ => match self.equal_how(path, desired, live) {
                None => self.drift(path, desired, live),
                Some("") => {}
                Some(how) => self.discount(path, DiscountReason::Normalised, how.to_string()),
            },
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
            let live_value = live.get(key).filter(|l| !l.is_null());
            if rules::is_bookkeeping(path) {
            } else if rules::is_controller_owned(self.kind, self.desired_root, path) {
                self.discount(
                    path,
                    DiscountReason::OwnedBy,
                    "the aggregation controller (aggregationRule)".to_string(),
                );
            } else if rules::is_server_allocated(path, d) {
                if live_value.is_some() {
                    self.discount(
                        path,
                        DiscountReason::ServerDefault,
                        format!("allocated by the server: git asks for it with {d}"),
                    );
                }
            } else {
                match live_value {
                    // In content maps an empty value, `null` and no key are one: the API server
                    // returns empty Secret bytes as `null`.
                    None if content && is_empty_value(d) => self.discount(
                        path,
                        DiscountReason::Normalised,
                        "empty-equals-absent: an empty value is stored as null".to_string(),
                    ),
                    None if !content && rules::is_dropped_at(path, d) => self.discount(
                        path,
                        DiscountReason::Normalised,
                        "empty-equals-absent: the server drops this empty or zero value"
                            .to_string(),
                    ),
                    None => self.drift(path, d, &Value::Null),
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
            let before = (self.out.len(), self.discounts.len() + self.more);
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
                let untold = before == (self.out.len(), self.discounts.len() + self.more);
                if self.explain && untold && !(path.len() == 1 && path[0].key() == Some("status")) {
                    self.explain_live_only(path, l);
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
            _ if self.is_default(path, live) => {}
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
            let unordered = self.is_unordered(path);
            let equal = if rules::is_set(path) {
                desired
                    .iter()
                    .all(|d| live.iter().any(|l| self.scalar_equal(path, d, l)))
            } else if unordered {
                desired
                    .iter()
                    .all(|d| live.iter().any(|l| self.scalar_equal(path, d, l)))
                    && live
                        .iter()
                        .all(|l| desired.iter().any(|d| self.scalar_equal(path, d, l)))
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
            } else if desired != live {
                let how = if rules::is_set(path) {
                    "set: order, and elements the server adds"
                } else if unordered {
                    "set (drift.unordered): order and repeats"
                } else {
                    "element values (number, quantity or int-or-string)"
                };
                self.discount(path, DiscountReason::Normalised, how.to_string());
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
        self.equal_how(path, desired, live).is_some()
    }

    /// Whether two scalars are equal, and how: `""` when they are the same value, else the
    /// normalisation that made them equal; `None` when they differ.
    fn equal_how(&self, path: &[Seg], desired: &Value, live: &Value) -> Option<&'static str> {
        if desired == live {
            return Some("");
        }
        if let (Value::Number(d), Value::Number(l)) = (desired, live)
            && d.as_f64() == l.as_f64()
        {
            return Some("number: the same value written another way");
        }
        if rules::is_base64_data(self.kind, self.group, path) {
            let equal = match (desired, live) {
                // A snapshot's stand-in for a secret value (see `live::digest`).
                (Value::String(d), Value::String(l)) if crate::digest::is_marker(l) => {
                    return crate::digest::decode_base64(d)
                        .and_then(|bytes| crate::digest::matches(l, &bytes))
                        .unwrap_or(false)
                        .then_some("base64: the same bytes as the snapshot's digest");
                }
                (Value::String(d), Value::String(l)) => {
                    crate::digest::decode_base64(d).is_some()
                        && crate::digest::decode_base64(d) == crate::digest::decode_base64(l)
                }
                _ => false,
            };
            return equal.then_some("base64: the same bytes, encoded another way");
        }
        if rules::is_quantity(path) && quantity::equal(desired, live) {
            return Some("quantity: the same amount in other units");
        }
        if rules::is_int_or_string(path)
            && int_or_string(desired).is_some()
            && int_or_string(desired) == int_or_string(live)
        {
            return Some("int-or-string: the same port or count as text and as a number");
        }
        None
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

/// How many scalar leaves a value has (an empty mapping or list counts as one).
fn leaves(value: &Value) -> usize {
    match value {
        Value::Object(map) if !map.is_empty() => map.values().map(leaves).sum(),
        _ => 1,
    }
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
