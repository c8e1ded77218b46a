//! Who set a field, from `metadata.managedFields`: the server records, per manager, the set of
//! fields it last wrote (`fieldsV1`) and when. This answers "who changed what and when" for a
//! drift, and whether a live-only field was set by hand (`kubectl edit`, `kubectl set`, …).

use std::cell::OnceCell;
use std::collections::BTreeSet;

use serde_json::Value;

use super::path::Seg;

/// One managedFields entry.
#[derive(Clone, Debug)]
pub struct Entry<'a> {
    /// The manager (`kubectl-edit`, `kube-controller-manager`, `argocd-controller`, …).
    pub manager: &'a str,
    /// `Apply` or `Update`.
    pub operation: &'a str,
    /// When the manager last wrote, RFC 3339.
    pub time: Option<&'a str>,
    raw: &'a Value,
    parsed: OnceCell<Value>,
}

impl Entry<'_> {
    /// The fieldsV1 tree. Live readers store it as compact JSON text to save memory (see
    /// `live::compact`); it is parsed on first use, which only drifted objects need.
    fn fields(&self) -> &Value {
        match self.raw {
            Value::String(text) => self
                .parsed
                .get_or_init(|| serde_json::from_str(text).unwrap_or(Value::Null)),
            tree => tree,
        }
    }
}

/// The managedFields of one live object.
#[derive(Clone, Debug, Default)]
pub struct Ownership<'a> {
    entries: Vec<Entry<'a>>,
}

/// How far a manager's field set reaches along a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// The manager owns the field itself.
    Owns,
    /// The manager owns an atomic field (list or struct written whole) that contains it.
    OwnsAtomicParent,
    /// The manager owns fields below it, not the field itself.
    Below,
    /// Not at all.
    None,
}

impl<'a> Ownership<'a> {
    /// Reads the managedFields of a live object; malformed entries are skipped.
    pub fn of(live: &'a Value) -> Ownership<'a> {
        let entries = live
            .pointer("/metadata/managedFields")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|e| {
                        Some(Entry {
                            manager: e.get("manager")?.as_str()?,
                            operation: e.get("operation").and_then(Value::as_str).unwrap_or(""),
                            time: e.get("time").and_then(Value::as_str),
                            raw: e
                                .get("fieldsV1")
                                .filter(|f| f.is_object() || f.is_string())?,
                            parsed: OnceCell::new(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ownership { entries }
    }

    /// Whether any entry belongs to one of `managers` (a fast way out for most objects).
    pub fn has_any(&self, managers: &BTreeSet<String>) -> bool {
        self.entries.iter().any(|e| managers.contains(e.manager))
    }

    /// The managers that own the field at `path` of `live`, most recent first.
    pub fn owners(&self, live: &Value, path: &[Seg]) -> Vec<&Entry<'a>> {
        let mut owners: Vec<&Entry<'a>> = self
            .entries
            .iter()
            .filter(|e| {
                matches!(
                    reach(e.fields(), live, path),
                    Reach::Owns | Reach::OwnsAtomicParent
                )
            })
            .collect();
        owners.sort_by(|a, b| b.time.unwrap_or("").cmp(a.time.unwrap_or("")));
        owners
    }

    /// The most recent entry among `managers` that set the field at `path` itself or fields
    /// below it, with how far it reaches. Owning an atomic parent does not count: a manager that
    /// rewrote a whole list also "owns" the defaults the server filled into it, which nobody set.
    pub fn set_by(
        &self,
        live: &Value,
        path: &[Seg],
        managers: &BTreeSet<String>,
    ) -> Option<(&Entry<'a>, Reach)> {
        self.entries
            .iter()
            .filter(|e| managers.contains(e.manager))
            .map(|e| (e, reach(e.fields(), live, path)))
            .filter(|(_, r)| matches!(r, Reach::Owns | Reach::Below))
            .max_by(|a, b| a.0.time.unwrap_or("").cmp(b.0.time.unwrap_or("")))
    }

    /// Whether some `Apply` entry may own a field named `key`: a look at the raw fieldsV1 text,
    /// without parsing it (most objects never need their fieldsV1 parsed).
    pub fn apply_mentions(&self, key: &str) -> bool {
        self.entries.iter().any(|e| {
            e.operation == "Apply"
                && match e.raw {
                    Value::String(text) => {
                        text.contains(key) && text.contains(&format!("\"f:{key}\""))
                    }
                    _ => true,
                }
        })
    }

    /// The managers that applied git's declaration with server-side apply: `Apply` entries that
    /// own at least one field the declared object sets. A live-only field such a manager still
    /// owns was in the configuration it last applied, and has left git since.
    pub fn git_appliers(&self, desired: &Value) -> BTreeSet<String> {
        self.entries
            .iter()
            .filter(|e| e.operation == "Apply" && shares_a_field(e.fields(), desired))
            .map(|e| e.manager.to_string())
            .collect()
    }

    /// Every manager named in the object's managedFields.
    pub fn managers(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.manager)
    }
}

/// Whether a fieldsV1 tree owns a field the declared object sets (mapping keys only: enough to
/// tell git's applier from others).
fn shares_a_field(fields: &Value, desired: &Value) -> bool {
    let (Some(children), Some(map)) = (fields.as_object(), desired.as_object()) else {
        return false;
    };
    children.iter().any(|(key, child)| {
        let Some(value) = key
            .strip_prefix("f:")
            .and_then(|name| map.get(name))
            .filter(|v| !v.is_null())
        else {
            return false;
        };
        match child.as_object() {
            Some(c) if c.is_empty() || c.contains_key(".") => true,
            _ => shares_a_field(child, value),
        }
    })
}

/// Follows `path` through a fieldsV1 tree alongside the live object.
fn reach(fields: &Value, live: &Value, path: &[Seg]) -> Reach {
    let mut node = fields;
    let mut cur = Some(live);
    for (i, seg) in path.iter().enumerate() {
        let Some(children) = node.as_object() else {
            return Reach::None;
        };
        if i > 0 && children.is_empty() {
            // An empty set below a field: the manager owns that field whole (atomic).
            return Reach::OwnsAtomicParent;
        }
        let next = match (seg, cur) {
            (Seg::Key(k), Some(Value::Object(map))) => {
                cur = map.get(k);
                children.get(&format!("f:{k}"))
            }
            (Seg::Index(idx), Some(Value::Array(items))) => {
                let element = items.get(*idx);
                cur = element;
                element.and_then(|element| {
                    children.iter().find_map(|(key, child)| {
                        element_matches(key, element, *idx).then_some(child)
                    })
                })
            }
            _ => None,
        };
        match next {
            Some(child) => node = child,
            None => return Reach::None,
        }
    }
    match node.as_object() {
        Some(children) if children.is_empty() || children.contains_key(".") => Reach::Owns,
        Some(_) => Reach::Below,
        None => Reach::None,
    }
}

/// Whether a fieldsV1 list key (`k:{…}`, `v:…`, `i:N`) names this list element.
fn element_matches(key: &str, element: &Value, index: usize) -> bool {
    if let Some(json) = key.strip_prefix("k:") {
        let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(json) else {
            return false;
        };
        fields.iter().all(|(field, want)| {
            element
                .get(field)
                .is_some_and(|have| loosely_equal(have, want))
        })
    } else if let Some(json) = key.strip_prefix("v:") {
        serde_json::from_str::<Value>(json).is_ok_and(|want| loosely_equal(element, &want))
    } else if let Some(i) = key.strip_prefix("i:") {
        i.parse::<usize>() == Ok(index)
    } else {
        false
    }
}

fn loosely_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn live() -> Value {
        json!({
            "metadata": {
                "name": "web",
                "managedFields": [
                    {"manager": "kubectl-client-side-apply", "operation": "Update", "time": "2026-11-01T10:00:00Z",
                     "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
                         "k:{\"name\":\"web\"}": {".": {}, "f:name": {}, "f:ports": {
                             "k:{\"containerPort\":8080,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}}}}}}}},
                    {"manager": "kubectl-set", "operation": "Update", "time": "2026-11-20T09:30:00Z",
                     "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
                         "k:{\"name\":\"web\"}": {"f:image": {}}}}}}}},
                    {"manager": "kubectl-scale", "operation": "Update", "subresource": "scale", "time": "2026-11-21T08:00:00Z",
                     "fieldsV1": {"f:spec": {"f:replicas": {}}}},
                    {"manager": "kubectl-edit", "operation": "Update", "time": "2026-11-22T08:00:00Z",
                     "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
                         "k:{\"name\":\"web\"}": {"f:args": {}}}}}}}}
                ]
            },
            "spec": {"replicas": 5, "template": {"spec": {"containers": [
                {"name": "web", "image": "web:2", "args": ["--a", "--b"], "ports": [{"containerPort": 8080, "protocol": "TCP"}]}
            ]}}}
        })
    }

    fn path(segs: &[&str]) -> Vec<Seg> {
        segs.iter()
            .map(|s| match s.parse::<usize>() {
                Ok(i) => Seg::Index(i),
                Err(_) => Seg::Key((*s).to_string()),
            })
            .collect()
    }

    #[test]
    fn owners_follow_keyed_list_elements() {
        let live = live();
        let own = Ownership::of(&live);
        let image = own.owners(
            &live,
            &path(&["spec", "template", "spec", "containers", "0", "image"]),
        );
        assert_eq!(image.len(), 1);
        assert_eq!(image[0].manager, "kubectl-set");
        assert_eq!(image[0].time, Some("2026-11-20T09:30:00Z"));
        let replicas = own.owners(&live, &path(&["spec", "replicas"]));
        assert_eq!(replicas[0].manager, "kubectl-scale");
        let port = own.owners(
            &live,
            &path(&[
                "spec",
                "template",
                "spec",
                "containers",
                "0",
                "ports",
                "0",
                "containerPort",
            ]),
        );
        assert_eq!(port[0].manager, "kubectl-client-side-apply");
    }

    #[test]
    fn an_atomic_field_owns_everything_inside_it() {
        let live = live();
        let own = Ownership::of(&live);
        let arg = own.owners(
            &live,
            &path(&["spec", "template", "spec", "containers", "0", "args", "1"]),
        );
        assert_eq!(arg[0].manager, "kubectl-edit");
    }

    #[test]
    fn set_by_sees_fields_below_but_not_inside_atomic_parents() {
        let live = live();
        let own = Ownership::of(&live);
        let managers: BTreeSet<String> = ["kubectl-edit".to_string()].into();
        let below = own.set_by(&live, &path(&["spec", "template"]), &managers);
        assert_eq!(
            below.map(|(e, r)| (e.manager, r)),
            Some(("kubectl-edit", Reach::Below))
        );
        let exact = own.set_by(
            &live,
            &path(&["spec", "template", "spec", "containers", "0", "args"]),
            &managers,
        );
        assert_eq!(exact.map(|(_, r)| r), Some(Reach::Owns));
        let inside = own.set_by(
            &live,
            &path(&["spec", "template", "spec", "containers", "0", "args", "0"]),
            &managers,
        );
        assert!(
            inside.is_none(),
            "an element of an atomic list is not set by its owner"
        );
        assert!(
            own.set_by(&live, &path(&["spec", "replicas"]), &managers)
                .is_none()
        );
        assert!(own.owners(&live, &path(&["spec", "template"])).is_empty());
    }
}
