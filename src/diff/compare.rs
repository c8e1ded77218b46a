//! The field-by-field comparison of one declared object with its live counterpart. Declared
//! fields must match after normalization; live-only fields are drift only in content maps, as
//! list elements, or where an imperative manager set them.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::owners::{Ownership, Reach};
use super::path::Seg;
use super::{quantity, rules};

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
    out: Vec<RawDrift>,
    /// Along the current path: at which depths the declared list position differs from the
    /// live one (`None`: the element is only live).
    git_index: Vec<(usize, Option<usize>)>,
}

impl<'a> Comparer<'a> {
    /// A comparer for one object pair.
    pub fn new(
        kind: &'a str,
        group: &'a str,
        desired_root: &'a Value,
        live_root: &'a Value,
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
        self.out.push(RawDrift {
            path: path.to_vec(),
            desired: desired.clone(),
            live: live.clone(),
            set_by: None,
            git_path: self.git_path(path),
        });
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
                        if content || !rules::is_dropped_at(path, d) {
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
                    self.drift(path, &Value::Null, l);
                } else if self.check_imperative {
                    self.live_only(path, l);
                }
            }
            path.pop();
        }
    }

    /// A live-only field: drift where an imperative manager set it, searched downwards to the
    /// level the manager set whole.
    fn live_only(&mut self, path: &mut Vec<Seg>, live: &Value) {
        let Some((entry, reach)) = self.owners.set_by(self.live_root, path, self.imperative) else {
            return;
        };
        match (live, reach) {
            (Value::Object(map), Reach::Below) => {
                for (key, child) in map {
                    path.push(Seg::Key(key.clone()));
                    if !rules::is_bookkeeping(path) {
                        self.live_only(path, child);
                    }
                    path.pop();
                }
            }
            (Value::Array(items), Reach::Below) => {
                for (i, child) in items.iter().enumerate() {
                    path.push(Seg::Index(i));
                    self.live_only(path, child);
                    path.pop();
                }
            }
            _ => self.out.push(RawDrift {
                git_path: self.git_path(path),
                path: path.clone(),
                desired: Value::Null,
                live: live.clone(),
                set_by: Some((entry.manager.to_string(), entry.time.map(str::to_string))),
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
