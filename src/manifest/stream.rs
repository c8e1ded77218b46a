//! Large JSON snapshot files (`kubectl get … -o json` of a whole cluster: tens of megabytes and
//! more) read object by object from a reader: only the object being read is ever held as a tree,
//! and each is handed on (frozen) before the next is read. Lines come from counting the newlines
//! the reader has passed, so each item keeps the line it starts on.

use std::cell::Cell;
use std::io::Read;
use std::rc::Rc;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::documents::{Strict, depth, json_problem};
use super::{FileProblem, ParsedFile, to_object};
use crate::config::Limits;
use crate::model::{Code, Object};

/// Why a file could not be streamed: its top level is not an object with `items`, or its `kind`
/// is not a list. Such a file is read whole instead (if it is small enough).
#[derive(Debug, PartialEq)]
pub struct NotAList;

/// Reads a JSON `kind: List` (or `…List`) from `reader` item by item; `each` is called on every
/// object as it is made (to freeze it) before the next is read. A syntax error anywhere fails the
/// whole file, as it does when a file is read whole: objects read before it are dropped.
pub fn parse_json_list(
    file: &str,
    reader: impl Read,
    limits: &Limits,
    each: &mut dyn FnMut(&mut Object),
) -> Result<ParsedFile, NotAList> {
    let newlines = Rc::new(Cell::new(0u64));
    let counting = Counting {
        inner: reader,
        newlines: Rc::clone(&newlines),
    };
    let mut de = serde_json::Deserializer::from_reader(counting);
    let mut out = ParsedFile::default();
    let mut top = Top {
        file,
        limits,
        each,
        newlines: &newlines,
        out: &mut out,
        map: Map::new(),
        items: false,
    };
    let result = (&mut de).deserialize_any(TopVisitor(&mut top));
    let map = std::mem::take(&mut top.map);
    let items = top.items;
    match result.and_then(|is_map| de.end().map(|()| is_map)) {
        Err(err) if err.to_string().starts_with(NOT_A_LIST) => return Err(NotAList),
        Err(err) => {
            let problem = if err.is_io() {
                FileProblem::at(
                    Code::SnapshotUnreadable,
                    None,
                    format!("cannot read: {err}"),
                )
            } else {
                json_problem(&err)
            };
            return Ok(ParsedFile {
                objects: Vec::new(),
                errors: vec![problem],
                notes: Vec::new(),
            });
        }
        Ok(false) => return Err(NotAList),
        Ok(true) => {}
    }
    if !is_list_kind(map.get("kind")) || !items {
        return Err(NotAList);
    }
    Ok(out)
}

/// Ends the read as soon as the file is known not to be a list (told apart from real errors).
const NOT_A_LIST: &str = "gitdrift: not a list";

fn is_list_kind(value: Option<&Value>) -> bool {
    value
        .and_then(Value::as_str)
        .is_some_and(|k| k == "List" || k.ends_with("List"))
}

/// A reader that counts the newlines it has passed (serde_json reads a byte at a time).
struct Counting<R> {
    inner: R,
    newlines: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let found = buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        self.newlines.set(self.newlines.get() + found);
        Ok(n)
    }
}

/// What reading the top level collects.
struct Top<'a> {
    file: &'a str,
    limits: &'a Limits,
    each: &'a mut dyn FnMut(&mut Object),
    newlines: &'a Cell<u64>,
    out: &'a mut ParsedFile,
    /// Every top-level field but `items`.
    map: Map<String, Value>,
    /// Whether `items` was a list (its objects are in `out`).
    items: bool,
}

/// The top level: `Ok(true)` for an object, `Ok(false)` for anything else.
struct TopVisitor<'a, 'b>(&'b mut Top<'a>);

impl<'de> Visitor<'de> for TopVisitor<'_, '_> {
    type Value = bool;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<bool, A::Error> {
        Err(de::Error::custom(NOT_A_LIST))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<bool, A::Error> {
        let top = self.0;
        let mut seen_items = false;
        while let Some(key) = access.next_key::<String>()? {
            if top.map.contains_key(&key) || (key == "items" && seen_items) {
                return Err(de::Error::custom(format!("duplicate mapping key: {key}")));
            }
            if key == "items" {
                // `kubectl` writes `items` before `kind`; a `kind` seen first that is not a
                // list ends the read here rather than after every item.
                if top.map.contains_key("kind") && !is_list_kind(top.map.get("kind")) {
                    return Err(de::Error::custom(NOT_A_LIST));
                }
                seen_items = true;
                top.items = access.next_value_seed(Items(&mut *top))?;
            } else {
                let Strict(value) = access.next_value()?;
                top.map.insert(key, value);
            }
        }
        Ok(true)
    }
}

/// The `items` list, read item by item (`items` that is not a list is an error, from serde's
/// defaults).
struct Items<'a, 'b>(&'b mut Top<'a>);

impl<'de> DeserializeSeed<'de> for Items<'_, '_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(ItemsVisitor(self.0))
    }
}

struct ItemsVisitor<'a, 'b>(&'b mut Top<'a>);

impl<'de> Visitor<'de> for ItemsVisitor<'_, '_> {
    type Value = bool;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of objects")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<bool, A::Error> {
        let top = self.0;
        while let Some((value, line)) = access.next_element_seed(Item(top.newlines))? {
            // The list and its own object are two levels above each item.
            if depth(&value) + 2 > top.limits.max_depth {
                top.out.errors.push(FileProblem::at(
                    Code::ManifestSyntax,
                    Some(line),
                    format!(
                        "invalid JSON: nested deeper than {} levels",
                        top.limits.max_depth
                    ),
                ));
                continue;
            }
            match value {
                Value::Object(map) => {
                    if let Some(mut object) = to_object(top.file, map, line, top.out) {
                        (top.each)(&mut object);
                        top.out.objects.push(object);
                    }
                }
                _ => top.out.errors.push(FileProblem::at(
                    Code::ManifestInvalidObject,
                    Some(line),
                    "List item is not a mapping",
                )),
            }
        }
        Ok(true)
    }
}

/// One item and the line it starts on (serde_json has passed the whitespace before it and
/// peeked its first byte when the seed is called).
struct Item<'a>(&'a Cell<u64>);

impl<'de> DeserializeSeed<'de> for Item<'_> {
    type Value = (Value, u64);

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(Value, u64), D::Error> {
        let line = self.0.get() + 1;
        let Strict(value) = <Strict as serde::Deserialize>::deserialize(deserializer)?;
        Ok((value, line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Syntax, parse};

    fn item(name: &str) -> String {
        format!(
            "    {{\n      \"apiVersion\": \"v1\",\n      \"kind\": \"ConfigMap\",\n      \"metadata\": {{\"name\": \"{name}\", \"namespace\": \"shop\"}},\n      \"data\": {{\"k\": \"{name}\"}}\n    }}"
        )
    }

    fn list(items: &[String]) -> String {
        format!(
            "{{\n  \"apiVersion\": \"v1\",\n  \"items\": [\n{}\n  ],\n  \"kind\": \"List\",\n  \"metadata\": {{\"resourceVersion\": \"\"}}\n}}\n",
            items.join(",\n")
        )
    }

    fn stream(text: &str) -> (Result<ParsedFile, NotAList>, usize) {
        let mut frozen = 0;
        let parsed = parse_json_list(
            "live/all.json",
            text.as_bytes(),
            &Limits::default(),
            &mut |_| frozen += 1,
        );
        (parsed, frozen)
    }

    #[test]
    fn a_list_is_read_item_by_item_with_the_lines_a_whole_read_gives() {
        let text = list(
            &(0..50)
                .map(|i| item(&format!("cm-{i}")))
                .collect::<Vec<_>>(),
        );
        let (streamed, frozen) = stream(&text);
        let streamed = streamed.unwrap();
        let whole = parse(
            "live/all.json",
            text.as_bytes(),
            Syntax::Json,
            &Limits::default(),
        );
        assert_eq!(frozen, 50, "each object is handed on as it is read");
        assert!(streamed.errors.is_empty(), "{:?}", streamed.errors);
        assert_eq!(streamed.objects.len(), 50);
        let key = |p: &ParsedFile| -> Vec<(String, Option<u64>, Value)> {
            p.objects
                .iter()
                .map(|o| (o.name.clone(), o.origin.line, o.value().into_owned()))
                .collect()
        };
        assert_eq!(key(&streamed), key(&whole));
        assert_eq!(streamed.objects[0].origin.line, Some(4));
        assert_eq!(streamed.objects[1].origin.line, Some(10));
    }

    #[test]
    fn bad_items_are_errors_at_their_line_and_the_rest_is_read() {
        let deep = format!(
            "    {{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {{\"name\": \"deep\"}}, \"data\": {}1{}}}",
            "{\"a\": ".repeat(70),
            "}".repeat(70)
        );
        let nameless =
            "    {\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {}}".to_string();
        let text = list(&[
            item("a"),
            deep,
            nameless,
            "    [1, 2]".to_string(),
            item("b"),
        ]);
        let parsed = stream(&text).0.unwrap();
        let names: Vec<&str> = parsed.objects.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        let errors: Vec<(Option<u64>, &str)> = parsed
            .errors
            .iter()
            .map(|e| (e.line, e.message.as_str()))
            .collect();
        assert_eq!(
            errors,
            [
                (Some(10), "invalid JSON: nested deeper than 64 levels"),
                (Some(11), "ConfigMap has no metadata.name"),
                (Some(12), "List item is not a mapping"),
            ]
        );
    }

    #[test]
    fn a_syntax_error_fails_the_file_with_its_line_and_no_objects() {
        let text = list(&[item("a"), item("b")]).replace("\"name\": \"b\"", "\"name\": b");
        let parsed = stream(&text).0.unwrap();
        assert!(parsed.objects.is_empty());
        assert_eq!(parsed.errors.len(), 1);
        assert_eq!(parsed.errors[0].line, Some(13));
        assert_eq!(parsed.errors[0].code, Code::ManifestSyntax);
        // Duplicate keys at the top are refused as in a whole read.
        let dupes =
            "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"kind\": \"List\", \"items\": []}";
        let parsed = stream(dupes).0.unwrap();
        assert!(
            parsed.errors[0].message.contains("duplicate"),
            "{:?}",
            parsed.errors
        );
    }

    #[test]
    fn what_is_not_a_list_is_told_apart() {
        for text in [
            "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"x\"}}",
            "{\"apiVersion\": \"example.com/v1\", \"kind\": \"Thing\", \"items\": [{\"a\": 1}]}",
            "[1, 2, 3]",
        ] {
            assert_eq!(stream(text).0.err(), Some(NotAList), "{text}");
        }
        // A list whose `items` is not one is an error.
        let parsed = stream("{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": {\"a\": 1}}")
            .0
            .unwrap();
        assert!(parsed.objects.is_empty());
        assert!(
            parsed.errors[0]
                .message
                .contains("expected a list of objects"),
            "{:?}",
            parsed.errors
        );
    }
}
