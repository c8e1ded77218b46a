//! From text to documents: YAML multi-document streams and JSON, each top-level document with
//! the line it starts on, `kind: List` items with their own lines. Defensive: duplicate keys,
//! alias bombs, deep nesting are errors with a line, and no message quotes the input.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use serde_saphyr::Spanned;

use super::FileProblem;
use crate::config::Limits;
use crate::model::Code;

/// One top-level document and the line it starts on.
pub(super) struct Doc {
    pub(super) body: DocBody,
    pub(super) line: u64,
}

/// What a document holds.
pub(super) enum DocBody {
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

/// The documents of a YAML stream.
pub(super) fn parse_yaml(text: &str, limits: &Limits) -> Result<Vec<Doc>, FileProblem> {
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

/// The document of a JSON file.
pub(super) fn parse_json(text: &str, limits: &Limits) -> Result<Vec<Doc>, FileProblem> {
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

pub(super) fn json_problem(err: &serde_json::Error) -> FileProblem {
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

pub(super) fn depth(value: &Value) -> usize {
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

/// The 1-based line a byte offset falls on.
pub(super) fn line_of_offset(bytes: &[u8], offset: usize) -> u64 {
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
