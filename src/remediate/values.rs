//! Helm values: a rendered field is traced to the values key that produces it. The candidates
//! are the keys of the merged values (the chart's `values.yaml`, the source's values files, its
//! inline values) whose value is the rendered value, or a part of it (an image's tag inside
//! `repository:tag`); each is tried by writing the live value (or the live part) into the values
//! file, and the first whose render moves that field to the live value and nothing else is kept
//! ([`super::rendered`] checks it). The file written is the last values file the source names,
//! or the chart's `values.yaml` when it names none, unless another source renders the same chart
//! from it.

use serde_json::{Map, Value};

use super::FieldChange;
use super::rendered::{Attempt, Workbench, first_document, join, set_in};
use crate::config::Render;
use crate::judge::ResourceReport;

/// The most candidate keys tried for one field (each costs a render).
const MAX_CANDIDATES: usize = 8;

/// The ways of writing a field of the `at`th object the chart renders: one per candidate key.
pub(super) fn attempts(
    bench: &Workbench<'_>,
    _r: &ResourceReport,
    _at: usize,
    f: &FieldChange,
) -> Vec<Result<Vec<Attempt>, String>> {
    match candidates(bench, f) {
        Ok(attempts) => vec![Ok(attempts.0), Err(attempts.1)],
        Err(err) => vec![Err(err)],
    }
}

/// The attempts, and what to say when none renders the live value alone.
fn candidates(bench: &Workbench<'_>, f: &FieldChange) -> Result<(Vec<Attempt>, String), String> {
    let Render::Helm(settings) = &bench.source.render else {
        return Err("not a Helm source".into());
    };
    if !is_scalar(&f.git) || !is_scalar(&f.live) {
        return Err("only a scalar the values set can be traced to a values key".into());
    }
    // The file a change is written to, unless another source of the repository reads it too
    // (a change there would change what that source renders).
    let chart_values = join(&settings.chart, "values.yaml");
    let file = match settings.values_files.last() {
        Some(file) => join("", file),
        None => chart_values.clone(),
    };
    let sharing: Vec<&str> = bench
        .config
        .sources
        .iter()
        .filter(|s| s.name != bench.source.name && s.repo == bench.source.repo)
        .filter(|s| match &s.render {
            Render::Helm(h) => {
                join(&h.chart, "values.yaml") == file
                    || h.values_files.iter().any(|v| join("", v) == file)
            }
            _ => false,
        })
        .map(|s| s.name.as_str())
        .collect();
    if !sharing.is_empty() {
        return Err(format!(
            "{file} is read by source {} too: give this source a values file of its own to change it for this source alone",
            sharing.join(", ")
        ));
    }
    let text = bench
        .text(&file)
        .ok_or_else(|| format!("{file} is not in the repository at the scanned commit"))?;
    // The values as the render sees them: the chart's, then each file, then the inline ones.
    let mut layers = vec![chart_values];
    layers.extend(settings.values_files.iter().map(|v| join("", v)));
    let mut merged = Value::Object(Map::new());
    for layer in &layers {
        if let Some(layer_text) = bench.text(layer) {
            let value = first_document(&layer_text).map_err(|e| format!("{layer} {e}"))?;
            merge(&mut merged, value);
        }
    }
    let inline = settings.values.clone().unwrap_or(Value::Null);
    merge(&mut merged, inline.clone());
    let mut leaves = Vec::new();
    walk(&merged, &mut Vec::new(), &mut leaves);
    let mut found: Vec<(usize, Vec<String>, Value)> = Vec::new();
    for (path, value) in leaves {
        if let Some((rank, new)) = replacement(&value, &f.git, &f.live) {
            found.push((rank, path, new));
        }
    }
    // Exact matches first, then the longest parts.
    found.sort_by_key(|(rank, ..)| *rank);
    found.truncate(MAX_CANDIDATES);
    let mut attempts = Vec::new();
    let mut tried = Vec::new();
    for (_, path, new) in found {
        let key = path.join(".");
        if pointer_of(&inline, &path).is_some() {
            tried.push(format!(
                "{key} (set by the source's inline values in gitdrift's configuration)"
            ));
            continue;
        }
        let edited = match set_in(&text, &path, Some(&new)) {
            Ok(edited) => edited,
            Err(err) => {
                tried.push(format!("{key}: {err}"));
                continue;
            }
        };
        tried.push(key.clone());
        attempts.push(Attempt {
            files: std::collections::BTreeMap::from([(file.clone(), edited)]),
            holder: file.clone(),
            note: format!("written into {file} at `{key}`, the values key that renders it"),
        });
    }
    let none = if tried.is_empty() {
        "no values key holds the rendered value: change the chart's templates by hand".to_string()
    } else {
        format!(
            "no values key renders this field alone (tried {}): change the chart by hand",
            tried.join(", ")
        )
    };
    Ok((attempts, none))
}

/// Whether a value is one a values key can hold and a template print as it is.
fn is_scalar(value: &Value) -> bool {
    matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_))
}

/// A value's text as a template prints it.
fn printed(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// What a values leaf would take for the rendered value to become the live one, with a rank
/// (lower first): the live value where the leaf is the rendered value; where the leaf is a part
/// of the rendered text, the live text's part between the same surroundings.
fn replacement(leaf: &Value, git: &Value, live: &Value) -> Option<(usize, Value)> {
    if leaf == git {
        return Some((0, live.clone()));
    }
    let (part, rendered, wanted) = (printed(leaf)?, printed(git)?, printed(live)?);
    if part.is_empty() || part == rendered {
        return (part == rendered && !part.is_empty()).then(|| (1, typed(leaf, &wanted)));
    }
    let at = rendered.find(&part)?;
    let (before, after) = (&rendered[..at], &rendered[at + part.len()..]);
    let middle = wanted.strip_prefix(before)?.strip_suffix(after)?;
    if middle.is_empty() {
        return None;
    }
    // The longer the part, the likelier it is the key.
    Some((2 + rendered.len() - part.len(), typed(leaf, middle)))
}

/// `text` as the leaf's type where it reads as one (a number stays a number).
fn typed(leaf: &Value, text: &str) -> Value {
    match leaf {
        Value::Number(_) => text
            .parse::<serde_json::Number>()
            .map(Value::Number)
            .unwrap_or_else(|_| Value::String(text.to_string())),
        Value::Bool(_) => text
            .parse::<bool>()
            .map(Value::Bool)
            .unwrap_or_else(|_| Value::String(text.to_string())),
        _ => Value::String(text.to_string()),
    }
}

/// Every scalar leaf of the values, with its path of keys.
fn walk(value: &Value, at: &mut Vec<String>, out: &mut Vec<(Vec<String>, Value)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                at.push(key.clone());
                walk(child, at, out);
                at.pop();
            }
        }
        Value::Array(_) | Value::Null => {}
        scalar => out.push((at.clone(), scalar.clone())),
    }
}

/// The value at a path of mapping keys.
fn pointer_of<'v>(value: &'v Value, path: &[String]) -> Option<&'v Value> {
    path.iter().try_fold(value, |v, key| v.get(key))
}

/// Helm's merge of values layers: mappings key by key, anything else replaced.
fn merge(into: &mut Value, layer: Value) {
    match (into, layer) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in b {
                match a.get_mut(&key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        merge(existing, value)
                    }
                    _ => {
                        a.insert(key, value);
                    }
                }
            }
        }
        (_, Value::Null) => {}
        (into, layer) => *into = layer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A leaf that is the rendered value takes the live value; a leaf inside the rendered text
    /// takes the live text's part between the same surroundings, in its own type.
    #[test]
    fn values_leaves_take_the_live_value_or_its_part() {
        assert_eq!(
            replacement(&json!(2), &json!(2), &json!(5)),
            Some((0, json!(5)))
        );
        assert_eq!(
            replacement(
                &json!("1.0.3"),
                &json!("registry/web:1.0.3"),
                &json!("registry/web:1.0.4")
            ),
            Some((2 + 13, json!("1.0.4")))
        );
        assert_eq!(
            replacement(
                &json!("registry/web"),
                &json!("registry/web:1.0.3"),
                &json!("registry/web:1.0.4")
            ),
            None,
            "the repository did not change"
        );
        assert_eq!(
            replacement(&json!(8080), &json!("8080"), &json!("9090")),
            Some((1, json!(9090)))
        );
        assert_eq!(replacement(&json!("x"), &json!("y"), &json!("z")), None);
        let mut values = json!({"image": {"repository": "r", "tag": "1"}, "replicaCount": 1});
        merge(&mut values, json!({"image": {"tag": "2"}}));
        assert_eq!(
            values,
            json!({"image": {"repository": "r", "tag": "2"}, "replicaCount": 1})
        );
    }
}
