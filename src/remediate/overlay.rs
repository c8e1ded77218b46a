//! Kustomize overlays: a live change to an object an overlay renders is written into that
//! overlay, where its authors would write it — an image into the kustomization's `images:`, a
//! replica count into `replicas:`, any other field into a strategic-merge patch of the overlay (a
//! new file listed under `patches:`, or the overlay's patch file that already targets the
//! object). Every edit is checked by rendering the edited overlay: the adopted fields render as
//! live has them, and nothing else in the render changes; a field no placement passes that check
//! for is described instead, with why.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::planning::pointer;
use super::rendered::{Attempt, Workbench, first_document, join, model, set_in};
use super::{FieldChange, describe};
use crate::judge::ResourceReport;
use crate::model::pointer::parse as parse_pointer;

/// The ways of writing a field of the `at`th object the overlay renders, in the order they are
/// tried: an image into `images:`, a replica count into `replicas:`, then a strategic-merge
/// patch.
pub(super) fn attempts(
    bench: &Workbench<'_>,
    r: &ResourceReport,
    at: usize,
    f: &FieldChange,
) -> Vec<Result<Vec<Attempt>, String>> {
    let Some(kustomization) = crate::desired::render::KUSTOMIZATION_FILES
        .iter()
        .map(|name| join(bench.path, name))
        .find(|path| bench.text(path).is_some())
    else {
        return vec![Err(format!(
            "{} has no kustomization file at the scanned commit",
            bench.path
        ))];
    };
    let overlay = Overlay {
        bench,
        kustomization,
    };
    let path = parse_pointer(&f.path).unwrap_or_default();
    let mut attempts = Vec::new();
    if is_image(&path) && f.git.is_string() && f.live.is_string() {
        attempts.push(overlay.images(f).map(|a| vec![a]));
    }
    if f.path == "/spec/replicas" && f.live.is_u64() {
        attempts.push(overlay.replicas(r, f));
    }
    attempts.push(overlay.patch(r, at, f));
    attempts
}

/// An overlay being edited: the plan's workbench and its kustomization file.
struct Overlay<'w, 'a> {
    bench: &'w Workbench<'a>,
    /// The kustomization file's path in the repository.
    kustomization: String,
}

impl Overlay<'_, '_> {
    fn text(&self, file: &str) -> Option<String> {
        self.bench.text(file)
    }

    /// The kustomization as it reads now.
    fn kustomization_value(&self) -> Result<Value, String> {
        first_document(&self.text(&self.kustomization).unwrap_or_default())
    }

    /// An image written into the kustomization's `images:`: the entry that renders git's image
    /// name gets the live name, tag or digest; without one, an entry is added.
    fn images(&self, f: &FieldChange) -> Result<Attempt, String> {
        let (Some(git), Some(live)) = (f.git.as_str(), f.live.as_str()) else {
            return Err("not an image".into());
        };
        let (git, live) = (Image::parse(git), Image::parse(live));
        if live.tag.is_none() && live.digest.is_none() {
            return Err("the live image names no tag or digest".into());
        }
        if live.tag.is_some() && live.digest.is_some() {
            return Err(
                "the live image has a tag and a digest, which `images:` cannot both set".into(),
            );
        }
        let kustomization = self.kustomization_value()?;
        let entries = kustomization
            .get("images")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let found = entries.iter().position(|e| {
            let name = e.get("name").and_then(Value::as_str);
            let renamed = e.get("newName").and_then(Value::as_str);
            renamed.or(name) == Some(git.name.as_str())
        });
        let mut text = self.text(&self.kustomization).unwrap_or_default();
        let mut entry = match found {
            Some(i) => entries[i].clone(),
            None => json!({"name": git.name}),
        };
        let base_name = entry["name"].as_str().unwrap_or_default().to_string();
        let object = entry
            .as_object_mut()
            .ok_or("an `images:` entry is not a mapping")?;
        if live.name != base_name {
            object.insert("newName".into(), json!(live.name));
        } else {
            object.shift_remove("newName");
        }
        match (&live.tag, &live.digest) {
            (Some(tag), _) => {
                object.insert("newTag".into(), json!(tag));
                object.shift_remove("digest");
            }
            (_, Some(digest)) => {
                object.insert("digest".into(), json!(digest));
                object.shift_remove("newTag");
            }
            (None, None) => {}
        }
        let what = match found {
            Some(i) => {
                // Each key of the entry set (or removed) on its own, the others untouched.
                for key in ["newName", "newTag", "digest"] {
                    let path = vec!["images".to_string(), i.to_string(), key.to_string()];
                    let now = entries[i].get(key);
                    let wanted = entry.get(key);
                    if now != wanted {
                        text = set_in(&text, &path, wanted)?;
                    }
                }
                format!(
                    "written into the `images:` entry for {base_name} of {}",
                    self.kustomization
                )
            }
            None => {
                let path = vec!["images".to_string(), entries.len().to_string()];
                text = match kustomization.get("images") {
                    Some(_) => set_in(&text, &path, Some(&entry))?,
                    None => set_in(&text, &["images".to_string()], Some(&json!([entry])))?,
                };
                format!(
                    "written as a new `images:` entry for {base_name} in {}",
                    self.kustomization
                )
            }
        };
        Ok(Attempt {
            files: BTreeMap::from([(self.kustomization.clone(), text)]),
            holder: self.kustomization.clone(),
            note: what,
        })
    }

    /// A replica count written into the kustomization's `replicas:`, under the name Kustomize
    /// matches (the rendered name, or the name before the overlay's prefix and suffix).
    fn replicas(&self, r: &ResourceReport, f: &FieldChange) -> Result<Vec<Attempt>, String> {
        let kustomization = self.kustomization_value()?;
        let entries = kustomization
            .get("replicas")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let text = self.text(&self.kustomization).unwrap_or_default();
        let mut attempts = Vec::new();
        for name in names(&kustomization, &r.name) {
            let found = entries
                .iter()
                .position(|e| e.get("name").and_then(Value::as_str) == Some(name.as_str()));
            let (edited, note) = match found {
                Some(i) => (
                    set_in(
                        &text,
                        &["replicas".into(), i.to_string(), "count".into()],
                        Some(&f.live),
                    ),
                    format!(
                        "written into the `replicas:` entry for {name} of {}",
                        self.kustomization
                    ),
                ),
                None => {
                    let entry = json!({"name": name, "count": f.live});
                    let edited = match kustomization.get("replicas") {
                        Some(_) => set_in(
                            &text,
                            &["replicas".into(), entries.len().to_string()],
                            Some(&entry),
                        ),
                        None => set_in(&text, &["replicas".into()], Some(&json!([entry]))),
                    };
                    (
                        edited,
                        format!(
                            "written as a new `replicas:` entry for {name} in {}",
                            self.kustomization
                        ),
                    )
                }
            };
            attempts.push(Attempt {
                files: BTreeMap::from([(self.kustomization.clone(), edited?)]),
                holder: self.kustomization.clone(),
                note,
            });
        }
        Ok(attempts)
    }

    /// A field written into a strategic-merge patch of the overlay: the overlay's patch file
    /// that already targets the object, or a new file listed under `patches:`.
    fn patch(
        &self,
        r: &ResourceReport,
        at: usize,
        f: &FieldChange,
    ) -> Result<Vec<Attempt>, String> {
        let patch = smp(&self.bench.current[at], f)?;
        let kustomization = self.kustomization_value()?;
        let mut attempts = Vec::new();
        // A patch file of the overlay that targets the object: the field merged into it.
        for file in self.patch_files(&kustomization) {
            let Some(text) = self.text(&file) else {
                continue;
            };
            let Ok(value) = first_document(&text) else {
                continue;
            };
            let targets = value.get("kind").and_then(Value::as_str) == Some(r.kind.as_str())
                && value
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| names(&kustomization, &r.name).iter().any(|c| c == n));
            if !targets {
                continue;
            }
            let merged = merge(value.clone(), strip_header(patch.clone()));
            let edited = rewrite(&text, &value, &merged)?;
            attempts.push(Attempt {
                files: BTreeMap::from([(file.clone(), edited)]),
                holder: file.clone(),
                note: format!("written into the overlay's patch {file}"),
            });
        }
        // A new patch file, under each name Kustomize might match the object by.
        let candidates = names(&kustomization, &r.name);
        // Kind, namespace and name: objects of one name in two namespaces get a patch each.
        let stem = format!(
            "gitdrift-{}-{}{}",
            r.kind.to_ascii_lowercase(),
            r.namespace
                .as_deref()
                .map(|ns| format!("{}-", ns.replace(['/', '.', ':'], "-")))
                .unwrap_or_default(),
            candidates[0].replace(['/', '.', ':'], "-")
        );
        let mut file = join(self.bench.path, &format!("{stem}.yaml"));
        let mut n = 2;
        while self.text(&file).is_some() && !self.bench.created.contains(&file) {
            file = join(self.bench.path, &format!("{stem}-{n}.yaml"));
            n += 1;
        }
        let existing = self
            .text(&file)
            .filter(|_| self.bench.created.contains(&file));
        let relative = file
            .strip_prefix(&join(self.bench.path, ""))
            .unwrap_or(&file)
            .trim_start_matches('/')
            .to_string();
        let namespaces: Vec<Option<&str>> = match r.namespace.as_deref() {
            Some(ns) => vec![Some(ns), None],
            None => vec![None],
        };
        for name in candidates {
            for namespace in &namespaces {
                let mut header = json!({
                    "apiVersion": r.api_version,
                    "kind": r.kind,
                    "metadata": {"name": name},
                });
                if let Some(ns) = namespace {
                    header["metadata"]["namespace"] = json!(ns);
                }
                let document = match &existing {
                    // A patch gitdrift created for an earlier field: this one merged in.
                    Some(text) => {
                        let value = first_document(text)?;
                        if value.get("metadata") != header.get("metadata") {
                            continue;
                        }
                        merge(value, strip_header(patch.clone()))
                    }
                    None => merge(header, strip_header(patch.clone())),
                };
                let yaml = serde_saphyr::to_string(&document).map_err(|e| e.to_string())?;
                let text = format!(
                    "# Written by gitdrift: the live state of {} adopted into this overlay.\n{yaml}",
                    describe(r)
                );
                let mut files = BTreeMap::from([(file.clone(), text)]);
                if existing.is_none() {
                    files.insert(
                        self.kustomization.clone(),
                        self.list_patch(&kustomization, &relative)?,
                    );
                }
                attempts.push(Attempt {
                    files,
                    holder: file.clone(),
                    note: format!(
                        "written into the strategic-merge patch {file}, listed under the overlay's `patches:`"
                    ),
                });
            }
        }
        Ok(attempts)
    }

    /// The overlay's strategic-merge patch files (repository paths): `patches:` entries with a
    /// path and no target, and `patchesStrategicMerge:` files.
    fn patch_files(&self, kustomization: &Value) -> Vec<String> {
        let mut files = Vec::new();
        if let Some(entries) = kustomization.get("patches").and_then(Value::as_array) {
            for entry in entries {
                if entry.get("target").is_none()
                    && let Some(path) = entry.get("path").and_then(Value::as_str)
                {
                    files.push(join(self.bench.path, path));
                }
            }
        }
        if let Some(entries) = kustomization
            .get("patchesStrategicMerge")
            .and_then(Value::as_array)
        {
            for path in entries.iter().filter_map(Value::as_str) {
                if !path.contains('\n') {
                    files.push(join(self.bench.path, path));
                }
            }
        }
        files
    }

    /// The kustomization with a patch file (relative to the overlay) added under `patches:`.
    fn list_patch(&self, kustomization: &Value, relative: &str) -> Result<String, String> {
        let text = self.text(&self.kustomization).unwrap_or_default();
        let entry = json!({"path": relative});
        match kustomization.get("patches").and_then(Value::as_array) {
            Some(entries) => set_in(
                &text,
                &["patches".into(), entries.len().to_string()],
                Some(&entry),
            ),
            None => set_in(&text, &["patches".into()], Some(&json!([entry]))),
        }
    }
}

/// A patch document rewritten to hold `merged`: each path where it differs from `value` set,
/// format-preserving.
fn rewrite(text: &str, value: &Value, merged: &Value) -> Result<String, String> {
    let mut text = text.to_string();
    let mut changes = Vec::new();
    differences(value, merged, &mut Vec::new(), &mut changes);
    for (path, wanted) in changes {
        text = set_in(&text, &path, Some(&wanted))?;
    }
    Ok(text)
}

/// The paths where `merged` differs from `value`: a value git lacks or that changed, whole;
/// lists whole where they differ.
fn differences(
    value: &Value,
    merged: &Value,
    at: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, Value)>,
) {
    match (value, merged) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, wanted) in b {
                at.push(key.clone());
                match a.get(key) {
                    Some(now) => differences(now, wanted, at, out),
                    None => out.push((at.clone(), wanted.clone())),
                }
                at.pop();
            }
        }
        (a, b) if a != b => out.push((at.clone(), b.clone())),
        _ => {}
    }
}

/// Names Kustomize may match the object by in this overlay: without the overlay's `namePrefix`
/// and `nameSuffix` (the name its authors write), then as rendered.
fn names(kustomization: &Value, rendered: &str) -> Vec<String> {
    let mut names = vec![rendered.to_string()];
    let prefix = kustomization
        .get("namePrefix")
        .and_then(Value::as_str)
        .unwrap_or("");
    let suffix = kustomization
        .get("nameSuffix")
        .and_then(Value::as_str)
        .unwrap_or("");
    if let Some(base) = rendered
        .strip_prefix(prefix)
        .and_then(|n| n.strip_suffix(suffix))
        && base != rendered
        && !base.is_empty()
    {
        names.insert(0, base.to_string());
    }
    names
}

/// Whether a path is a container's image (in a pod template, a pod, or a job template).
fn is_image(path: &[String]) -> bool {
    path.len() >= 3
        && path[path.len() - 1] == "image"
        && path[path.len() - 2].parse::<usize>().is_ok()
        && matches!(
            path[path.len() - 3].as_str(),
            "containers" | "initContainers"
        )
}

/// An image reference: name, tag, digest.
#[derive(Debug, PartialEq)]
struct Image {
    name: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl Image {
    fn parse(reference: &str) -> Image {
        let (rest, digest) = match reference.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest.to_string())),
            None => (reference, None),
        };
        // A tag follows the last colon after the last slash (a registry's port has a slash
        // after it).
        let slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[slash..].rfind(':') {
            Some(i) => (&rest[..slash + i], Some(rest[slash + i + 1..].to_string())),
            None => (rest, None),
        };
        Image {
            name: name.to_string(),
            tag,
            digest,
        }
    }
}

/// The merge key of a list's elements in a strategic-merge patch, by the list's field name and
/// an element (`None`: the list is replaced whole).
fn merge_key(list: &str, element: &Value) -> Option<&'static str> {
    let has = |k: &str| element.get(k).is_some();
    match list {
        "volumeMounts" if has("mountPath") => Some("mountPath"),
        "volumeDevices" if has("devicePath") => Some("devicePath"),
        "ports" if has("containerPort") => Some("containerPort"),
        "ports" if has("port") => Some("port"),
        _ if has("name") => Some("name"),
        _ => None,
    }
}

/// The strategic-merge patch that sets one field of a rendered object: the object's header and
/// the path to the field, lists as their one element (by its merge key) on the way; a list
/// without a merge key whole. A removed mapping key is `null`, a removed element `$patch:
/// delete`.
fn smp(object: &Value, f: &FieldChange) -> Result<Value, String> {
    let git_path =
        parse_pointer(f.git_path.as_deref().unwrap_or(&f.path)).map_err(|e| e.to_string())?;
    let path = parse_pointer(&f.path).map_err(|e| e.to_string())?;
    let removed_element = path.last().map(String::as_str) == Some("-") && f.live.is_null();
    // Git's positions: the element at the end is git's, found by its value where it is `-`.
    let segments = &git_path;
    let mut adopted = object.clone();
    model(&mut adopted, f)?;
    let leaf = (!f.live.is_null()).then(|| f.live.clone());
    // Built from the innermost value out.
    let mut steps: Vec<Step> = Vec::new();
    let mut node = object;
    let mut value = None;
    for (i, seg) in segments.iter().enumerate() {
        match node {
            Value::Object(map) => {
                steps.push(Step::Key(seg.clone()));
                match map.get(seg) {
                    Some(next) => node = next,
                    // Git lacks the rest: the live value under it.
                    None => {
                        let mut nested = leaf.clone().unwrap_or(Value::Null);
                        for seg in segments[i + 1..].iter().rev() {
                            nested = Value::Object(Map::from_iter([(seg.clone(), nested)]));
                        }
                        value = Some(nested);
                        break;
                    }
                }
            }
            Value::Array(items) => {
                let field = match steps.last() {
                    Some(Step::Key(k)) => k.clone(),
                    _ => return Err("a list directly inside a list".into()),
                };
                let last = i == segments.len() - 1;
                let element = match seg.as_str() {
                    "-" if !f.live.is_null() => &f.live,
                    "-" => &f.git,
                    index => index
                        .parse::<usize>()
                        .ok()
                        .and_then(|n| items.get(n))
                        .ok_or("an element the render does not hold")?,
                };
                match merge_key(&field, element) {
                    Some(key) => {
                        let id = element.get(key).cloned().unwrap_or(Value::Null);
                        steps.push(Step::Element(key, id.clone()));
                        if last || seg == "-" {
                            value = Some(if removed_element {
                                json!({"$patch": "delete", key: id})
                            } else if f.live.is_null() {
                                return Err("an element removed without its key".into());
                            } else {
                                f.live.clone()
                            });
                            break;
                        }
                        node = element;
                    }
                    None => {
                        // Replaced whole: the list as adopted.
                        let list_path = &git_path[..i];
                        steps.pop();
                        steps.push(Step::Key(field));
                        value = Some(pointer(&adopted, list_path).cloned().unwrap_or(Value::Null));
                        break;
                    }
                }
            }
            _ => return Err("a field below a scalar".into()),
        }
    }
    let mut patch = match value {
        Some(v) => v,
        None => leaf.unwrap_or(Value::Null),
    };
    for step in steps.into_iter().rev() {
        patch = match step {
            Step::Key(k) => Value::Object(Map::from_iter([(k, patch)])),
            Step::Element(key, id) => {
                let mut element = match patch {
                    Value::Object(m) => m,
                    _ => return Err("a list element that is not a mapping".into()),
                };
                element.insert(key.to_string(), id);
                Value::Array(vec![Value::Object(element)])
            }
        };
    }
    Ok(patch)
}

/// One step of a patch's path.
enum Step {
    Key(String),
    Element(&'static str, Value),
}

/// A patch without its object's header (what is merged into another patch of the object).
fn strip_header(mut patch: Value) -> Value {
    if let Some(map) = patch.as_object_mut() {
        map.shift_remove("apiVersion");
        map.shift_remove("kind");
        map.shift_remove("metadata");
    }
    patch
}

/// Two patches of one object merged: mappings key by key, lists element by element where their
/// elements share a merge key, otherwise `b`'s list.
fn merge(a: Value, b: Value) -> Value {
    match (a, b) {
        (Value::Object(mut a), Value::Object(b)) => {
            for (key, value) in b {
                let merged = match a.shift_remove(&key) {
                    Some(now) => merge_at(&key, now, value),
                    None => value,
                };
                a.insert(key, merged);
            }
            Value::Object(a)
        }
        (_, b) => b,
    }
}

/// [`merge`] of the values of one field: lists by their elements' merge keys.
fn merge_at(field: &str, a: Value, b: Value) -> Value {
    match (a, b) {
        (Value::Array(mut a), Value::Array(b)) => {
            for element in b {
                let key = merge_key(field, &element);
                let same = key.and_then(|k| {
                    a.iter()
                        .position(|e| e.get(k).is_some() && e.get(k) == element.get(k))
                });
                match same {
                    Some(at) => {
                        let now = a.remove(at);
                        a.insert(at, merge(now, element));
                    }
                    None if key.is_some() => a.push(element),
                    None => return Value::Array(vec![element]),
                }
            }
            Value::Array(a)
        }
        (a, b) => merge(a, b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_split_into_name_tag_and_digest() {
        let image = |name: &str, tag: Option<&str>, digest: Option<&str>| Image {
            name: name.into(),
            tag: tag.map(str::to_string),
            digest: digest.map(str::to_string),
        };
        assert_eq!(Image::parse("nginx"), image("nginx", None, None));
        assert_eq!(
            Image::parse("nginx:1.27"),
            image("nginx", Some("1.27"), None)
        );
        assert_eq!(
            Image::parse("registry:5000/team/app:v2"),
            image("registry:5000/team/app", Some("v2"), None)
        );
        assert_eq!(
            Image::parse("registry:5000/app@sha256:abc"),
            image("registry:5000/app", None, Some("sha256:abc"))
        );
    }

    fn field(path: &str, git_path: Option<&str>, git: Value, live: Value) -> FieldChange {
        FieldChange {
            resource: "Deployment shop/web".into(),
            path: path.into(),
            git_path: git_path.map(str::to_string),
            git,
            live,
            changed_by: None,
            changed_at: None,
            line: None,
            note: None,
        }
    }

    /// A field inside list elements is patched through each element's merge key; elements
    /// only live has are added whole, removed ones deleted by key, keyless lists replaced.
    #[test]
    fn patches_reach_fields_through_merge_keys() {
        let object = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {"template": {"spec": {
                "containers": [{"name": "web", "image": "web:1",
                    "env": [{"name": "A", "value": "1"}],
                    "args": ["--a"]}]}}}});
        let env = "/spec/template/spec/containers/0/env";
        let set = smp(
            &object,
            &field(&format!("{env}/0/value"), None, json!("1"), json!("2")),
        )
        .unwrap();
        assert_eq!(
            set,
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "web", "env": [{"name": "A", "value": "2"}]}]}}}})
        );
        let added = smp(
            &object,
            &field(
                &format!("{env}/1"),
                Some(&format!("{env}/-")),
                Value::Null,
                json!({"name": "B", "value": "3"}),
            ),
        )
        .unwrap();
        assert_eq!(
            added["spec"]["template"]["spec"]["containers"][0]["env"],
            json!([{"name": "B", "value": "3"}])
        );
        let removed = smp(
            &object,
            &field(
                &format!("{env}/-"),
                None,
                json!({"name": "A", "value": "1"}),
                Value::Null,
            ),
        )
        .unwrap();
        assert_eq!(
            removed["spec"]["template"]["spec"]["containers"][0]["env"],
            json!([{"$patch": "delete", "name": "A"}])
        );
        let args = smp(
            &object,
            &field(
                "/spec/template/spec/containers/0/args/0",
                None,
                json!("--a"),
                json!("--b"),
            ),
        )
        .unwrap();
        assert_eq!(
            args["spec"]["template"]["spec"]["containers"][0],
            json!({"name": "web", "args": ["--b"]})
        );
        let new_map = smp(
            &object,
            &field(
                "/spec/template/metadata/annotations/x",
                None,
                Value::Null,
                json!("y"),
            ),
        )
        .unwrap();
        assert_eq!(
            new_map,
            json!({"spec": {"template": {"metadata": {"annotations": {"x": "y"}}}}})
        );
        // Two patches of one object merge element by element.
        assert_eq!(
            merge(set, added)["spec"]["template"]["spec"]["containers"][0]["env"],
            json!([{"name": "A", "value": "2"}, {"name": "B", "value": "3"}])
        );
    }
}
