//! Kubernetes manifests from bytes: YAML multi-document streams, JSON, and `kind: List`, with the
//! line each object starts on. Shared by git sources, snapshot folders (which hold the same
//! formats: `kubectl get -o yaml|json` writes what people commit) and the Kubernetes reader.
//!
//! Parsing is defensive: duplicate keys, alias bombs, deep nesting and oversized files are errors
//! that name the file and line, and no error message quotes the document's content (a Secret's
//! value must never reach a log).

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use serde_saphyr::Spanned;

use crate::config::Limits;
use crate::model::{Body, Code, Object, Origin, split_api_version};

/// What one file yielded: objects, plus problems and notes tied to lines.
#[derive(Debug, Default)]
pub struct ParsedFile {
    /// Kubernetes objects, in file order.
    pub objects: Vec<Object>,
    /// Problems that made (part of) the file unusable.
    pub errors: Vec<FileProblem>,
    /// Things worth telling that are not errors (a document that is not a Kubernetes object).
    pub notes: Vec<FileProblem>,
}

/// A problem or a note about one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileProblem {
    /// 1-based line, where known.
    pub line: Option<u64>,
    /// What class of problem.
    pub code: Code,
    /// What is wrong, never quoting the file's content.
    pub message: String,
}

impl FileProblem {
    /// A problem at a line of the file.
    pub fn at(code: Code, line: Option<u64>, message: impl Into<String>) -> Self {
        FileProblem {
            line,
            code,
            message: message.into(),
        }
    }
}

/// The syntax of a file, decided by its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// `.yaml` / `.yml`.
    Yaml,
    /// `.json`.
    Json,
}

impl Syntax {
    /// The syntax a path's extension names, if it is a manifest extension.
    pub fn of_path(path: &str) -> Option<Syntax> {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".yaml") || lower.ends_with(".yml") {
            Some(Syntax::Yaml)
        } else if lower.ends_with(".json") {
            Some(Syntax::Json)
        } else {
            None
        }
    }
}

/// Parses one file into Kubernetes objects. Never panics and never fails as a whole: every
/// problem lands in [`ParsedFile::errors`] with a line where one is known.
pub fn parse(file: &str, bytes: &[u8], syntax: Syntax, limits: &Limits) -> ParsedFile {
    let mut out = ParsedFile::default();
    if bytes.len() as u64 > limits.max_file_bytes {
        out.errors.push(FileProblem::at(
            Code::ManifestTooLarge,
            None,
            format!(
                "file is {} bytes, over the limit of {} bytes",
                bytes.len(),
                limits.max_file_bytes
            ),
        ));
        return out;
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text.strip_prefix('\u{feff}').unwrap_or(text),
        Err(err) => {
            let line = line_of_offset(bytes, err.valid_up_to());
            out.errors.push(FileProblem::at(
                Code::ManifestNotUtf8,
                Some(line),
                "file is not valid UTF-8".to_string(),
            ));
            return out;
        }
    };
    let docs = match syntax {
        Syntax::Yaml => parse_yaml(text, limits),
        Syntax::Json => parse_json(text, limits),
    };
    let docs = match docs {
        Ok(docs) => docs,
        Err(problem) => {
            out.errors.push(problem);
            return out;
        }
    };
    let mut skipped = 0usize;
    for doc in docs {
        match doc.body {
            DocBody::Object { map, items } => {
                collect_object(file, map, items, doc.line, &mut out, &mut skipped)
            }
            DocBody::Other => skipped += 1,
        }
    }
    if skipped > 0 {
        let message = if out.objects.is_empty() && out.errors.is_empty() {
            "no Kubernetes objects (no apiVersion/kind); file skipped".to_string()
        } else {
            format!("{skipped} document(s) without apiVersion/kind skipped")
        };
        out.notes
            .push(FileProblem::at(Code::ManifestSkipped, None, message));
    }
    out
}

fn collect_object(
    file: &str,
    mut map: Map<String, Value>,
    items: Option<Vec<(Value, u64)>>,
    line: u64,
    out: &mut ParsedFile,
    skipped: &mut usize,
) {
    let kind_is_list = map
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k == "List" || k.ends_with("List"));
    if kind_is_list && let Some(items) = items {
        for (item, item_line) in items {
            match item {
                Value::Object(item_map) => {
                    if let Some(object) = to_object(file, item_map, item_line, out) {
                        out.objects.push(object);
                    }
                }
                _ => out.errors.push(FileProblem::at(
                    Code::ManifestInvalidObject,
                    Some(item_line),
                    "List item is not a mapping",
                )),
            }
        }
        return;
    }
    if let Some(items) = items {
        map.insert(
            "items".to_string(),
            Value::Array(items.into_iter().map(|(v, _)| v).collect()),
        );
    }
    if !map.contains_key("apiVersion") && !map.contains_key("kind") {
        *skipped += 1;
        return;
    }
    if let Some(object) = to_object(file, map, line, out) {
        out.objects.push(object);
    }
}

/// An object from a value that did not come from a file (an API server response); `label` names
/// where it came from. `None` if it is not a Kubernetes object with a name.
pub fn object_from_value(label: &str, value: Value) -> Option<Object> {
    let Value::Object(map) = value else {
        return None;
    };
    let mut sink = ParsedFile::default();
    let mut object = to_object(label, map, 1, &mut sink)?;
    object.origin.line = None;
    Some(object)
}

/// Validates a mapping as a Kubernetes object: apiVersion, kind and metadata.name must be set.
fn to_object(
    file: &str,
    map: Map<String, Value>,
    line: u64,
    out: &mut ParsedFile,
) -> Option<Object> {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
    let api_version = text(map.get("apiVersion"));
    let kind = text(map.get("kind"));
    if api_version.is_empty() || kind.is_empty() {
        let missing = if api_version.is_empty() {
            "apiVersion"
        } else {
            "kind"
        };
        out.errors.push(FileProblem::at(
            Code::ManifestInvalidObject,
            Some(line),
            format!("object has no {missing} (a non-empty string is required)"),
        ));
        return None;
    }
    let group = split_api_version(&api_version).0.to_string();
    if group == "kustomize.config.k8s.io" || group == "config.kubernetes.io" {
        out.notes.push(FileProblem::at(
            Code::ManifestSkipped,
            Some(line),
            format!("{kind} is a build file, not a cluster object; skipped"),
        ));
        return None;
    }
    let metadata = map.get("metadata").and_then(Value::as_object);
    let name = text(metadata.and_then(|m| m.get("name")));
    if name.is_empty() {
        let hint = if metadata.is_some_and(|m| m.contains_key("generateName")) {
            " (generateName objects cannot be matched with live state)"
        } else {
            ""
        };
        out.errors.push(FileProblem::at(
            Code::ManifestInvalidObject,
            Some(line),
            format!("{kind} has no metadata.name{hint}"),
        ));
        return None;
    }
    let namespace = match metadata.and_then(|m| m.get("namespace")) {
        None | Some(Value::Null) => None,
        Some(Value::String(ns)) if ns.is_empty() => None,
        Some(Value::String(ns)) => Some(ns.clone()),
        Some(_) => {
            out.errors.push(FileProblem::at(
                Code::ManifestInvalidObject,
                Some(line),
                format!("{kind} {name}: metadata.namespace is not a string"),
            ));
            return None;
        }
    };
    let value = Value::Object(map);
    Some(Object {
        api_version,
        group,
        kind,
        namespace,
        name,
        owned: crate::model::has_owner(&value),
        body: Body::Tree(value),
        origin: Origin {
            file: file.to_string(),
            line: Some(line),
            rendered: None,
        },
    })
}

struct Doc {
    body: DocBody,
    line: u64,
}

enum DocBody {
    /// A mapping; `items` is split out with per-item lines so `kind: List` items keep theirs.
    Object {
        map: Map<String, Value>,
        items: Option<Vec<(Value, u64)>>,
    },
    /// A scalar or a sequence at the top: not a Kubernetes object.
    Other,
}

/// YAML options for manifests: as `kubectl` reads them (YAML 1.1 octal, so `defaultMode: 0644`
/// is 420), never quoting input in errors, with budgets against hostile files.
pub(crate) fn yaml_options(limits: &Limits) -> serde_saphyr::Options {
    serde_saphyr::options! {
        // Never quote the input in an error: it may be a Secret.
        with_snippet: false,
        legacy_octal_numbers: true,
        budget: serde_saphyr::budget! {
            max_nodes: limits.max_nodes,
            max_depth: limits.max_depth,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 100_000,
            max_replay_stack_depth: 8,
        },
    }
}

fn parse_yaml(text: &str, limits: &Limits) -> Result<Vec<Doc>, FileProblem> {
    let docs: Vec<Spanned<RawDoc>> =
        serde_saphyr::from_multiple_with_options(text, yaml_options(limits))
            .map_err(|err| yaml_problem(&err))?;
    // Aliases can nest documents deeper than the parser's own depth budget sees.
    for doc in &docs {
        let line = doc.referenced.line().max(1);
        if let DocBody::Object { map, items } = &doc.value.0 {
            let deepest = map
                .values()
                .map(depth)
                .chain(items.iter().flatten().map(|(v, _)| depth(v)))
                .max()
                .unwrap_or(0);
            if deepest + 1 > limits.max_depth {
                return Err(FileProblem::at(
                    Code::ManifestSyntax,
                    Some(line),
                    format!(
                        "invalid YAML: nested deeper than {} levels",
                        limits.max_depth
                    ),
                ));
            }
        }
    }
    Ok(docs
        .into_iter()
        .map(|doc| Doc {
            line: doc.referenced.line().max(1),
            body: doc.value.0,
        })
        .collect())
}

/// Turns a YAML error into a problem with the line separated from the message.
fn yaml_problem(err: &serde_saphyr::Error) -> FileProblem {
    let text = err.to_string();
    let text = text.lines().next().unwrap_or(&text);
    let message = text.find(" at line ").map_or(text, |i| &text[..i]);
    // For alias problems the useful place is where the alias is used.
    let place = ["used at line ", " at line "]
        .iter()
        .find_map(|marker| text.find(marker).map(|i| &text[i + marker.len()..]));
    let line = place.and_then(leading_number);
    let column = place
        .and_then(|rest| rest.split_once("column "))
        .and_then(|(_, rest)| leading_number(rest));
    let message = friendly(message);
    let message = match column {
        Some(column) => format!("invalid YAML: {message} (column {column})"),
        None => format!("invalid YAML: {message}"),
    };
    FileProblem::at(Code::ManifestSyntax, line, message)
}

fn leading_number(text: &str) -> Option<u64> {
    text.chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()
}

/// serde-saphyr's budget and alias errors carry internal state; say what they mean instead.
fn friendly(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("budget breached: ") {
        let what = rest.split([' ', '{', '(']).next().unwrap_or(rest);
        return format!("document too large or too deeply nested (limit on {what})");
    }
    if message.starts_with("alias replay limit exceeded") {
        return "aliases expand to too much data (limit on alias expansion)".to_string();
    }
    message.to_string()
}

fn parse_json(text: &str, limits: &Limits) -> Result<Vec<Doc>, FileProblem> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let Strict(value) = Strict::deserialize(&mut de).map_err(|err| json_problem(&err))?;
    de.end().map_err(|err| json_problem(&err))?;
    if depth(&value) > limits.max_depth {
        return Err(FileProblem::at(
            Code::ManifestSyntax,
            None,
            format!(
                "invalid JSON: nested deeper than {} levels",
                limits.max_depth
            ),
        ));
    }
    let Value::Object(mut map) = value else {
        return Ok(vec![Doc {
            body: DocBody::Other,
            line: 1,
        }]);
    };
    let line = first_non_blank_line(text);
    let items = match map.remove("items") {
        Some(Value::Array(items)) => {
            let lines = json_item_lines(text);
            Some(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let item_line = lines.get(i).copied().unwrap_or(line);
                        (item, item_line)
                    })
                    .collect(),
            )
        }
        Some(other) => {
            map.insert("items".to_string(), other);
            None
        }
        None => None,
    };
    Ok(vec![Doc {
        body: DocBody::Object { map, items },
        line,
    }])
}

fn json_problem(err: &serde_json::Error) -> FileProblem {
    let line = (err.line() > 0).then_some(err.line() as u64);
    // serde_json's own messages name the construct, not the value; strip its position suffix.
    let text = err.to_string();
    let message = text
        .rsplit_once(" at line ")
        .map(|(m, _)| m.to_string())
        .unwrap_or(text);
    FileProblem::at(
        Code::ManifestSyntax,
        line,
        format!("invalid JSON: {message}"),
    )
}

fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn first_non_blank_line(text: &str) -> u64 {
    text.lines()
        .position(|l| !l.trim().is_empty())
        .map_or(1, |i| i as u64 + 1)
}

fn line_of_offset(bytes: &[u8], offset: usize) -> u64 {
    bytes[..offset.min(bytes.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count() as u64
        + 1
}

/// Lines on which the elements of the top-level `"items"` array of a JSON object start.
/// A small scanner over already-validated JSON: it tracks depth and skips strings.
fn json_item_lines(text: &str) -> Vec<u64> {
    let bytes = text.as_bytes();
    let mut lines = Vec::new();
    let mut line = 1u64;
    let mut depth = 0usize;
    let mut i = 0usize;
    let mut last_key: Option<(usize, usize)> = None;
    let mut in_items = false;
    let mut expect_element = false;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'\n' => line += 1,
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    } else if bytes[i] == b'\n' {
                        line += 1;
                    }
                    i += 1;
                }
                if in_items && depth == 2 && expect_element {
                    lines.push(line);
                    expect_element = false;
                }
                if depth == 1 {
                    last_key = Some((start, i));
                }
            }
            b'{' | b'[' => {
                if in_items && depth == 2 && expect_element {
                    lines.push(line);
                    expect_element = false;
                }
                depth += 1;
                if b == b'[' && depth == 2 {
                    in_items = last_key.is_some_and(|(s, e)| &text[s..e] == "items");
                    expect_element = in_items;
                }
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 1 {
                    in_items = false;
                }
            }
            b',' if in_items && depth == 2 => expect_element = true,
            b' ' | b'\t' | b'\r' | b':' => {}
            _ => {
                if in_items && depth == 2 && expect_element {
                    lines.push(line);
                    expect_element = false;
                }
            }
        }
        i += 1;
    }
    lines
}

/// A YAML document's top level, read in one pass with the line of each `items` element.
struct RawDoc(DocBody);

impl<'de> Deserialize<'de> for RawDoc {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawDocVisitor)
    }
}

struct RawDocVisitor;

impl<'de> Visitor<'de> for RawDocVisitor {
    type Value = RawDoc;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a YAML document")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<RawDoc, A::Error> {
        let mut map = Map::new();
        let mut items = None;
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) || (key == "items" && items.is_some()) {
                return Err(de::Error::custom(format!("duplicate mapping key: {key}")));
            }
            if key == "items" {
                match access.next_value::<ItemsField>()? {
                    ItemsField::Seq(seq) => items = Some(seq),
                    ItemsField::Other(Strict(value)) => {
                        map.insert(key, value);
                    }
                }
            } else {
                let Strict(value) = access.next_value()?;
                map.insert(key, value);
            }
        }
        Ok(RawDoc(DocBody::Object { map, items }))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<RawDoc, A::Error> {
        while access.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(RawDoc(DocBody::Other))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<RawDoc, E> {
        Ok(RawDoc(DocBody::Other))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<RawDoc, E> {
        Ok(RawDoc(DocBody::Other))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<RawDoc, E> {
        Ok(RawDoc(DocBody::Other))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawDoc, E> {
        Ok(RawDoc(DocBody::Other))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<RawDoc, E> {
        Ok(RawDoc(DocBody::Other))
    }
    fn visit_unit<E: de::Error>(self) -> Result<RawDoc, E> {
        Ok(RawDoc(DocBody::Other))
    }
    fn visit_none<E: de::Error>(self) -> Result<RawDoc, E> {
        Ok(RawDoc(DocBody::Other))
    }
}

/// The value of a top-level `items` key: a sequence (with element lines) or anything else.
enum ItemsField {
    Seq(Vec<(Value, u64)>),
    Other(Strict),
}

impl<'de> Deserialize<'de> for ItemsField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ItemsVisitor;
        impl<'de> Visitor<'de> for ItemsVisitor {
            type Value = ItemsField;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ItemsField, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<Strict>>()? {
                    out.push((item.value.0, item.referenced.line().max(1)));
                }
                Ok(ItemsField::Seq(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ItemsField, A::Error> {
                StrictVisitor.visit_map(map).map(ItemsField::Other)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ItemsField, E> {
                StrictVisitor.visit_bool(v).map(ItemsField::Other)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ItemsField, E> {
                StrictVisitor.visit_i64(v).map(ItemsField::Other)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ItemsField, E> {
                StrictVisitor.visit_u64(v).map(ItemsField::Other)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ItemsField, E> {
                StrictVisitor.visit_f64(v).map(ItemsField::Other)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ItemsField, E> {
                StrictVisitor.visit_str(v).map(ItemsField::Other)
            }
            fn visit_unit<E: de::Error>(self) -> Result<ItemsField, E> {
                StrictVisitor.visit_unit().map(ItemsField::Other)
            }
            fn visit_none<E: de::Error>(self) -> Result<ItemsField, E> {
                StrictVisitor.visit_unit().map(ItemsField::Other)
            }
        }
        deserializer.deserialize_any(ItemsVisitor)
    }
}

/// A JSON value that refuses duplicate keys at every level (serde_json's own `Value` keeps the
/// last one silently, which would hide a mistake in a manifest).
pub struct Strict(pub Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Strict;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Strict, E> {
        Ok(Strict(Value::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Strict, E> {
        Ok(Strict(Value::from(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Strict, E> {
        Ok(Strict(Value::from(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Strict, E> {
        // Integral floats (YAML `012`, `1e3`) become integers, as the API server would store them.
        if v.fract() == 0.0 && v.abs() < 9.0e15 {
            return Ok(Strict(Value::from(v as i64)));
        }
        Ok(Strict(
            serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
        ))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Strict, E> {
        Ok(Strict(Value::String(v.to_string())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Strict, E> {
        Ok(Strict(Value::String(v)))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Strict, E> {
        Ok(Strict(Value::String(
            String::from_utf8_lossy(v).into_owned(),
        )))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Strict, E> {
        Ok(Strict(Value::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<Strict, E> {
        Ok(Strict(Value::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Strict, D::Error> {
        Strict::deserialize(d)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Strict, D::Error> {
        Strict::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Strict, A::Error> {
        let mut out = Vec::with_capacity(access.size_hint().unwrap_or(0).min(4096));
        while let Some(Strict(item)) = access.next_element()? {
            out.push(item);
        }
        Ok(Strict(Value::Array(out)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Strict, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate mapping key: {key}")));
            }
            let Strict(value) = access.next_value()?;
            map.insert(key, value);
        }
        Ok(Strict(Value::Object(map)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> ParsedFile {
        parse("m.yaml", text.as_bytes(), Syntax::Yaml, &Limits::default())
    }

    #[test]
    fn multi_document_stream_keeps_lines_and_skips_empty_documents() {
        let parsed = yaml(
            "# leading comment\n---\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n# only a comment\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\n",
        );
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        let found: Vec<_> = parsed
            .objects
            .iter()
            .map(|o| (o.kind.as_str(), o.name.as_str(), o.origin.line.unwrap_or(0)))
            .collect();
        assert_eq!(
            found,
            vec![("ConfigMap", "a", 4), ("Deployment", "web", 11)]
        );
        assert_eq!(parsed.objects[1].group, "apps");
        assert_eq!(parsed.objects[1].namespace.as_deref(), Some("shop"));
    }

    #[test]
    fn list_items_keep_their_own_lines() {
        let parsed = yaml(
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata:\n    name: a\n- apiVersion: v1\n  kind: Service\n  metadata:\n    name: b\n",
        );
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        let lines: Vec<_> = parsed
            .objects
            .iter()
            .map(|o| o.origin.line.unwrap_or(0))
            .collect();
        assert_eq!(lines, vec![4, 8]);
    }

    #[test]
    fn json_list_items_keep_their_own_lines() {
        let text = "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"List\",\n  \"items\": [\n    {\n      \"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"a\"}\n    },\n    {\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"b\", \"labels\": {\"x\": \"[{\"}}}\n  ]\n}\n";
        let parsed = parse("l.json", text.as_bytes(), Syntax::Json, &Limits::default());
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        let lines: Vec<_> = parsed
            .objects
            .iter()
            .map(|o| o.origin.line.unwrap_or(0))
            .collect();
        assert_eq!(lines, vec![5, 8]);
    }

    #[test]
    fn duplicate_keys_are_an_error_with_the_line() {
        let parsed = yaml(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  password: c2VjcmV0\n  password: aHVudGVyMg==\n",
        );
        assert_eq!(parsed.objects.len(), 0);
        assert_eq!(parsed.errors.len(), 1);
        let err = &parsed.errors[0];
        assert_eq!(err.line, Some(7), "{err:?}");
        assert!(err.message.contains("duplicate"), "{err:?}");
        assert!(!err.message.contains("aHVudGVyMg"), "{err:?}");
    }

    #[test]
    fn duplicate_top_level_keys_are_an_error() {
        let parsed = yaml("apiVersion: v1\nkind: ConfigMap\nkind: Secret\nmetadata:\n  name: s\n");
        assert_eq!(parsed.objects.len(), 0);
        assert!(
            parsed.errors[0].message.contains("duplicate"),
            "{:?}",
            parsed.errors
        );
    }

    #[test]
    fn json_duplicate_keys_are_an_error() {
        let text = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\",\"name\":\"b\"}}";
        let parsed = parse("d.json", text.as_bytes(), Syntax::Json, &Limits::default());
        assert!(parsed.objects.is_empty());
        assert!(
            parsed.errors[0].message.contains("duplicate"),
            "{:?}",
            parsed.errors
        );
        assert_eq!(parsed.errors[0].line, Some(1));
    }

    #[test]
    fn syntax_errors_name_the_line_and_never_quote_a_secret() {
        let parsed = yaml(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: \"hunter2-the-password\n  other: [\n",
        );
        assert!(parsed.objects.is_empty());
        let err = &parsed.errors[0];
        assert!(err.line.is_some(), "{err:?}");
        assert!(err.message.starts_with("invalid YAML"), "{err:?}");
        assert!(!err.message.contains("hunter2"), "{err:?}");
    }

    #[test]
    fn alias_bombs_are_refused() {
        let bomb = "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n";
        let parsed = yaml(bomb);
        assert!(parsed.objects.is_empty());
        assert!(
            parsed.errors[0].message.contains("alias expansion"),
            "{:?}",
            parsed.errors
        );
    }

    #[test]
    fn deep_nesting_is_refused_in_yaml_and_json() {
        let deep = format!("a: {}{}", "[".repeat(500), "]".repeat(500));
        assert!(!yaml(&deep).errors.is_empty());
        let deep_json = format!("{{\"a\": {}{}}}", "[".repeat(100), "]".repeat(100));
        let parsed = parse(
            "d.json",
            deep_json.as_bytes(),
            Syntax::Json,
            &Limits::default(),
        );
        assert!(!parsed.errors.is_empty());
    }

    #[test]
    fn depth_built_from_aliases_is_refused() {
        let mut text = String::from("a0: &a0 [x]\n");
        for i in 1..40 {
            text.push_str(&format!("a{i}: &a{i} [[[*a{}]]]\n", i - 1));
        }
        let parsed = yaml(&text);
        assert!(!parsed.errors.is_empty(), "{:?}", parsed.objects.len());
    }

    #[test]
    fn oversized_files_are_refused_before_parsing() {
        let limits = Limits {
            max_file_bytes: 10,
            ..Limits::default()
        };
        let parsed = parse(
            "big.yaml",
            b"apiVersion: v1\nkind: X\n",
            Syntax::Yaml,
            &limits,
        );
        assert!(parsed.errors[0].message.contains("over the limit"));
    }

    #[test]
    fn documents_without_api_version_and_kind_are_a_note_not_an_error() {
        let parsed = yaml("replicaCount: 3\nimage:\n  tag: v1\n");
        assert!(parsed.errors.is_empty());
        assert!(parsed.objects.is_empty());
        assert_eq!(parsed.notes.len(), 1);
        assert!(parsed.notes[0].message.contains("no Kubernetes objects"));
    }

    #[test]
    fn objects_without_name_or_kind_are_errors_and_the_rest_of_the_file_is_kept() {
        let parsed = yaml(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: x-\n---\napiVersion: v1\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n",
        );
        assert_eq!(parsed.objects.len(), 1);
        assert_eq!(parsed.objects[0].name, "ok");
        assert_eq!(parsed.errors.len(), 2);
        assert_eq!(parsed.errors[0].line, Some(1));
        assert!(parsed.errors[0].message.contains("generateName"));
        assert_eq!(parsed.errors[1].line, Some(6));
        assert!(parsed.errors[1].message.contains("no kind"));
    }

    #[test]
    fn kustomization_files_are_skipped_with_a_note() {
        let parsed = yaml(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n",
        );
        assert!(parsed.objects.is_empty() && parsed.errors.is_empty());
        assert_eq!(parsed.notes.len(), 1);
    }

    #[test]
    fn invalid_utf8_is_an_error_with_a_line() {
        let parsed = parse(
            "bin.yaml",
            b"apiVersion: v1\nkind: \xff\xfe\n",
            Syntax::Yaml,
            &Limits::default(),
        );
        assert_eq!(parsed.errors[0].line, Some(2));
    }

    #[test]
    fn octal_modes_read_as_kubectl_reads_them() {
        let parsed = yaml(
            "apiVersion: v1\nkind: X\nmetadata:\n  name: a\nspec:\n  defaultMode: 0644\n  plain: 644\n  zero: 0\n",
        );
        let value = parsed.objects[0].value();
        assert_eq!(value["spec"]["defaultMode"], serde_json::json!(420));
        assert_eq!(value["spec"]["plain"], serde_json::json!(644));
        assert_eq!(value["spec"]["zero"], serde_json::json!(0));
    }

    #[test]
    fn integral_floats_become_integers() {
        let parsed =
            yaml("apiVersion: v1\nkind: X\nmetadata:\n  name: a\nspec:\n  n: 1e3\n  f: 0.5\n");
        let value = parsed.objects[0].value();
        let spec = &value["spec"];
        assert_eq!(spec["n"], serde_json::json!(1000));
        assert_eq!(spec["f"], serde_json::json!(0.5));
    }
}
