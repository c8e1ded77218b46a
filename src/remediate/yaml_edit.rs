//! Format-preserving YAML edits: a file is parsed into a tree of nodes that know their byte
//! spans (granit-parser, the parser under serde-saphyr), and each edit replaces, inserts or
//! deletes only the bytes of the nodes it changes. Comments, key order, quoting, indentation,
//! document separators and every other document stay byte for byte as they were.
//!
//! What is edited in place: a scalar replaced by a scalar (in the same quoting style where the
//! value allows it); a value of any kind replaced (collections written in flow style); a key
//! added to a block mapping; an element appended to a block sequence; a key or element removed
//! from a block collection. Anything else (flow collections, anchors and aliases on the way,
//! multi-line keys) is refused with a reason, so the caller can suggest the change instead.

use std::ops::Range;

use granit_parser::{Event, Parser, ScalarStyle, StructureStyle};
use serde_json::Value;

/// A node of a parsed YAML file, with where it is.
#[derive(Clone, Debug)]
pub struct Node {
    /// What it is.
    pub kind: Kind,
    /// Its bytes in the file.
    pub span: Range<usize>,
    /// 1-based line where it starts.
    pub line: usize,
    /// 0-based column where it starts.
    pub col: usize,
    /// Carries an anchor (`&name`): edits through it would change other places too.
    pub anchored: bool,
}

/// The kinds of node.
#[derive(Clone, Debug)]
pub enum Kind {
    /// A scalar and its notation.
    Scalar(String, ScalarStyle),
    /// A mapping: each key node and value node.
    Map(Vec<(Node, Node)>, StructureStyle),
    /// A sequence.
    Seq(Vec<Node>, StructureStyle),
    /// An alias (`*name`).
    Alias,
}

impl Node {
    fn key(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar(s, _) => Some(s),
            _ => None,
        }
    }
}

/// Parses every document of a file into node trees.
pub fn parse(text: &str) -> Result<Vec<Node>, String> {
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut pending_key: Vec<Option<Node>> = Vec::new();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| e.to_string())?;
        let start = span.start.byte_offset().unwrap_or(span.start.index());
        let end = span.end.byte_offset().unwrap_or(span.end.index());
        let line = span.start.line();
        let col = span.start.col();
        let node = |kind: Kind, anchor: usize| Node {
            kind,
            span: start..end,
            line,
            col,
            anchored: anchor != 0,
        };
        let finished = match event {
            Event::Scalar(value, style, anchor, _) => {
                Some(node(Kind::Scalar(value.into_owned(), style), anchor))
            }
            Event::Alias(_) | Event::UnresolvedAlias(_) => Some(node(Kind::Alias, 0)),
            Event::MappingStart(style, anchor, _) => {
                stack.push(Frame::Map(node(Kind::Map(Vec::new(), style), anchor)));
                pending_key.push(None);
                None
            }
            Event::SequenceStart(style, anchor, _) => {
                stack.push(Frame::Seq(node(Kind::Seq(Vec::new(), style), anchor)));
                pending_key.push(None);
                None
            }
            Event::MappingEnd | Event::SequenceEnd => {
                pending_key.pop();
                stack.pop().map(|frame| {
                    let mut n = match frame {
                        Frame::Map(n) | Frame::Seq(n) => n,
                    };
                    // A collection ends where its last child ends (the end event of a block
                    // collection may sit on a later line).
                    let last_end = match &n.kind {
                        Kind::Map(entries, StructureStyle::Block) => {
                            entries.last().map(|(_, v)| v.span.end)
                        }
                        Kind::Seq(items, StructureStyle::Block) => items.last().map(|v| v.span.end),
                        _ => Some(end),
                    };
                    n.span.end = last_end.unwrap_or(end).max(n.span.start);
                    n
                })
            }
            _ => None,
        };
        let Some(done) = finished else {
            continue;
        };
        match stack.last_mut() {
            None => docs.push(done),
            Some(Frame::Seq(parent)) => {
                if let Kind::Seq(items, _) = &mut parent.kind {
                    items.push(done);
                }
            }
            Some(Frame::Map(parent)) => {
                let slot = pending_key.last_mut().expect("a key slot per mapping");
                match slot.take() {
                    None => *slot = Some(done),
                    Some(key) => {
                        if let Kind::Map(entries, _) = &mut parent.kind {
                            entries.push((key, done));
                        }
                    }
                }
            }
        }
    }
    Ok(docs)
}

/// A file's documents, found where a line starts one (`---`): a document parsed alone parses as
/// it does in the whole file (no scalar's content can hold the marker: YAML forbids it there),
/// so finding one object's fields reads its document, not every one. Found once per file.
pub struct Documents<'t> {
    text: &'t str,
    /// Where each part starts: its byte and its 1-based line.
    starts: Vec<(usize, usize)>,
}

/// [`Documents`] of a file. A file with a carriage return that ends a line alone (a line break
/// to the parser, not to this split) is one part.
pub fn documents(text: &str) -> Documents<'_> {
    let mut starts = vec![(0, 1)];
    let lone_cr = text
        .as_bytes()
        .windows(2)
        .any(|w| w[0] == b'\r' && w[1] != b'\n')
        || text.ends_with('\r');
    if !lone_cr {
        let mut offset = 0;
        for (number, l) in text.split_inclusive('\n').enumerate() {
            let marker = l.strip_prefix("---").is_some_and(|rest| {
                rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n', '\0'])
            });
            if number > 0 && marker {
                starts.push((offset, number + 1));
            }
            offset += l.len();
        }
    }
    Documents { text, starts }
}

impl Documents<'_> {
    /// The part that holds 1-based line `line`.
    pub fn part_of(&self, line: usize) -> usize {
        self.starts
            .partition_point(|&(_, first)| first <= line)
            .saturating_sub(1)
    }

    /// Part `part` parsed alone: its nodes' spans and lines are the file's.
    pub fn parse(&self, part: usize) -> Result<Vec<Node>, String> {
        let (start, start_line) = self.starts[part];
        let end = self
            .starts
            .get(part + 1)
            .map_or(self.text.len(), |&(b, _)| b);
        let mut docs = parse(&self.text[start..end])?;
        fn shift(node: &mut Node, bytes: usize, lines: usize) {
            node.span = node.span.start + bytes..node.span.end + bytes;
            node.line += lines;
            match &mut node.kind {
                Kind::Map(entries, _) => {
                    for (key, value) in entries {
                        shift(key, bytes, lines);
                        shift(value, bytes, lines);
                    }
                }
                Kind::Seq(items, _) => items.iter_mut().for_each(|item| shift(item, bytes, lines)),
                Kind::Scalar(..) | Kind::Alias => {}
            }
        }
        for doc in &mut docs {
            shift(doc, start, start_line - 1);
        }
        Ok(docs)
    }
}

enum Frame {
    Map(Node),
    Seq(Node),
}

/// One change to a file's bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Splice {
    /// The bytes replaced (empty for an insertion).
    pub range: Range<usize>,
    /// What they become.
    pub with: String,
}

/// Applies splices (non-overlapping) to a text.
pub fn apply(text: &str, splices: &[Splice]) -> Result<String, String> {
    let mut sorted: Vec<&Splice> = splices.iter().collect();
    sorted.sort_by_key(|s| (s.range.start, s.range.end));
    for pair in sorted.windows(2) {
        if pair[0].range.end > pair[1].range.start {
            return Err("two changes touch the same place".into());
        }
    }
    let mut out = text.to_string();
    for s in sorted.iter().rev() {
        out.replace_range(s.range.clone(), &s.with);
    }
    Ok(out)
}

/// The mapping node that holds an object starting on `line` (its document's root, or an element
/// of a `kind: List`'s `items`).
pub fn object_at(docs: &[Node], line: usize) -> Option<&Node> {
    fn find(node: &Node, line: usize) -> Option<&Node> {
        if let Kind::Map(entries, _) = &node.kind {
            if node.line == line {
                return Some(node);
            }
            for (key, value) in entries {
                if key.key() == Some("items")
                    && let Kind::Seq(items, _) = &value.kind
                {
                    for item in items {
                        if let Some(found) = find(item, line) {
                            return Some(found);
                        }
                    }
                }
            }
        }
        None
    }
    docs.iter().find_map(|d| find(d, line)).or_else(|| {
        // The document whose content starts first at or after `line` (comments or a `---`
        // may come before an object's first key).
        docs.iter()
            .filter(|d| matches!(d.kind, Kind::Map(..)) && d.line >= line)
            .min_by_key(|d| d.line)
            .filter(|d| d.line <= line + 20)
    })
}

/// Where a path leads: the node, or the deepest existing parent and what is missing below it.
enum Found<'a> {
    Node(&'a Node, Option<(&'a Node, &'a Node)>),
    Missing(&'a Node, Vec<String>),
}

fn walk<'a>(root: &'a Node, path: &[String]) -> Result<Found<'a>, String> {
    let mut node = root;
    let mut entry: Option<(&Node, &Node)> = None;
    for (i, seg) in path.iter().enumerate() {
        if node.anchored || matches!(node.kind, Kind::Alias) {
            return Err("the path goes through an anchor or alias".into());
        }
        let next = match &node.kind {
            Kind::Map(entries, _) => entries
                .iter()
                .find(|(k, _)| k.key() == Some(seg.as_str()))
                .map(|(k, v)| (Some((node, k)), v)),
            Kind::Seq(items, _) => seg
                .parse::<usize>()
                .ok()
                .and_then(|n| items.get(n))
                .map(|v| (None, v)),
            _ => return Err(format!("`{seg}` is below a scalar")),
        };
        match next {
            Some((e, v)) => {
                entry = e;
                node = v;
            }
            None => return Ok(Found::Missing(node, path[i..].to_vec())),
        }
    }
    Ok(Found::Node(node, entry))
}

/// The line of the field at `path` (JSON Pointer segments) inside `object`: its key's line (an
/// element's own line in a list), or the nearest existing ancestor's where git lacks the field;
/// and whether the whole path was found.
pub fn line_of(object: &Node, path: &[String]) -> (usize, bool) {
    let mut node = object;
    let mut line = object.line;
    for seg in path {
        let next = match &node.kind {
            Kind::Map(entries, _) => entries
                .iter()
                .find(|(k, _)| k.key() == Some(seg.as_str()))
                .map(|(k, v)| (k.line, v)),
            Kind::Seq(items, _) => seg
                .parse::<usize>()
                .ok()
                .and_then(|n| items.get(n))
                .map(|v| (v.line, v)),
            _ => None,
        };
        match next {
            Some((at, value)) => {
                line = at;
                node = value;
            }
            None => return (line, false),
        }
    }
    (line, true)
}

/// The splices that make the value at `path` (JSON Pointer segments) inside `object` equal to
/// `value` (`None`: remove it), in `text`.
pub fn set(
    text: &str,
    object: &Node,
    path: &[String],
    value: Option<&Value>,
) -> Result<Vec<Splice>, String> {
    match (walk(object, path)?, value) {
        (Found::Node(node, _), Some(value)) => replace(text, node, value),
        (Found::Node(node, entry), None) => remove(text, object, path, node, entry),
        (Found::Missing(parent, missing), Some(value)) => add(text, parent, &missing, value),
        // Already absent.
        (Found::Missing(..), None) => Ok(Vec::new()),
    }
}

fn replace(text: &str, node: &Node, value: &Value) -> Result<Vec<Splice>, String> {
    if node.anchored || matches!(node.kind, Kind::Alias) {
        return Err("the value is an anchor or alias".into());
    }
    let rendered = match (&node.kind, value) {
        (Kind::Scalar(_, style), v) if !v.is_object() && !v.is_array() => scalar(v, *style),
        (Kind::Scalar(_, ScalarStyle::Literal | ScalarStyle::Folded), _) => {
            return Err("a block scalar replaced by a collection".into());
        }
        _ => flow(value),
    };
    let mut range = node.span.clone();
    range.end = range.end.min(text.len());
    // A block collection that starts on its own line (under `key:`) is replaced from the end of
    // the key's line: a flow value must stand on the key's line.
    if matches!(
        node.kind,
        Kind::Map(_, StructureStyle::Block) | Kind::Seq(_, StructureStyle::Block)
    ) {
        let line_start = text[..range.start].rfind('\n').map_or(0, |i| i + 1);
        if text[line_start..range.start].trim().is_empty() {
            let before = text[..line_start].trim_end_matches(['\n', '\r']);
            return Ok(vec![Splice {
                range: before.len()..range.end,
                with: format!(" {rendered}"),
            }]);
        }
    }
    Ok(vec![Splice {
        range,
        with: rendered,
    }])
}

fn remove(
    text: &str,
    object: &Node,
    path: &[String],
    node: &Node,
    entry: Option<(&Node, &Node)>,
) -> Result<Vec<Splice>, String> {
    let parent_path = &path[..path.len() - 1];
    let parent = match walk(object, parent_path)? {
        Found::Node(parent, _) => parent,
        Found::Missing(..) => return Ok(Vec::new()),
    };
    let start_at = match (&parent.kind, entry) {
        (Kind::Map(_, StructureStyle::Block), Some((_, key))) => key.span.start,
        (Kind::Seq(_, StructureStyle::Block), None) => {
            // The item's dash.
            let line_start = text[..node.span.start].rfind('\n').map_or(0, |i| i + 1);
            line_start + text[line_start..node.span.start].find('-').unwrap_or(0)
        }
        _ => return Err("removing from a flow collection".into()),
    };
    let line_start = text[..start_at].rfind('\n').map_or(0, |i| i + 1);
    if !text[line_start..start_at].trim().is_empty() {
        // `- key: value` with the key on the dash's line: only whole lines are removed.
        return Err("the entry shares its line with its parent".into());
    }
    let end = text[node.span.end..]
        .find('\n')
        .map_or(text.len(), |i| node.span.end + i + 1);
    // The parent loses its last entry: it becomes empty, in flow style.
    let siblings = match &parent.kind {
        Kind::Map(e, _) => e.len(),
        Kind::Seq(i, _) => i.len(),
        _ => 0,
    };
    if siblings == 1 {
        return Err("removing a collection's only entry".into());
    }
    Ok(vec![Splice {
        range: line_start..end,
        with: String::new(),
    }])
}

fn add(
    text: &str,
    parent: &Node,
    missing: &[String],
    value: &Value,
) -> Result<Vec<Splice>, String> {
    if parent.anchored {
        return Err("the parent is an anchor".into());
    }
    // What goes under the deepest existing parent: nested maps for the rest of the path (a
    // list git does not have is not invented from indices).
    if missing[1..]
        .iter()
        .any(|seg| seg == "-" || seg.parse::<usize>().is_ok())
    {
        return Err("the path goes through a list git does not declare".into());
    }
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut nested = value.clone();
    for seg in missing[1..].iter().rev() {
        let mut map = serde_json::Map::new();
        map.insert(seg.clone(), nested);
        nested = Value::Object(map);
    }
    let first = &missing[0];
    let end_of_line = |at: usize| {
        let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
        if end > at && text.as_bytes()[end - 1] == b'\r' {
            end - 1
        } else {
            end
        }
    };
    match &parent.kind {
        Kind::Map(entries, StructureStyle::Block) => {
            let (first_key, _) = entries.first().ok_or("an empty block mapping")?;
            let indent = " ".repeat(first_key.col);
            let (_, last_value) = entries.last().expect("not empty");
            let at = end_of_line(
                last_value
                    .span
                    .end
                    .saturating_sub(1)
                    .max(last_value.span.start),
            );
            if first == "-" || first.parse::<usize>().is_ok() {
                return Err("a list index under a mapping".into());
            }
            let line = format!("{newline}{indent}{}: {}", key(first), value_text(&nested));
            Ok(vec![Splice {
                range: at..at,
                with: line,
            }])
        }
        Kind::Seq(items, StructureStyle::Block)
            if missing.len() == 1
                && (first == "-" || first.parse::<usize>() == Ok(items.len())) =>
        {
            let first_item = items.first().ok_or("an empty block sequence")?;
            let line_start = text[..first_item.span.start]
                .rfind('\n')
                .map_or(0, |i| i + 1);
            let dash = text[line_start..first_item.span.start]
                .find('-')
                .ok_or("a sequence item without a dash")?;
            let indent = " ".repeat(dash);
            let last = items.last().expect("not empty");
            let at = end_of_line(last.span.end.saturating_sub(1).max(last.span.start));
            Ok(vec![Splice {
                range: at..at,
                with: format!("{newline}{indent}- {}", value_text(&nested)),
            }])
        }
        Kind::Seq(..) => Err("an element added inside a sequence, not at its end".into()),
        _ => Err("adding to a flow collection".into()),
    }
}

/// A value on one line: scalars plain where that reads back the same, collections in flow style.
fn value_text(value: &Value) -> String {
    match value {
        Value::Object(_) | Value::Array(_) => flow(value),
        v => scalar(v, ScalarStyle::Plain),
    }
}

/// A mapping key.
fn key(k: &str) -> String {
    scalar(&Value::String(k.to_string()), ScalarStyle::Plain)
}

/// A collection in flow style: JSON, which is YAML.
fn flow(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// A scalar, in `style` where the value allows it.
fn scalar(value: &Value, style: ScalarStyle) -> String {
    match value {
        Value::String(s) => match style {
            ScalarStyle::SingleQuoted if !s.contains('\n') => {
                format!("'{}'", s.replace('\'', "''"))
            }
            ScalarStyle::Plain if plain_safe(s) => s.clone(),
            _ => serde_json::to_string(s).unwrap_or_default(),
        },
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

/// Whether a string written plain reads back as the same string.
fn plain_safe(s: &str) -> bool {
    if s.is_empty() || s.trim() != s {
        return false;
    }
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "null" | "~" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n"
    ) || s.parse::<f64>().is_ok()
        || s.starts_with(|c: char| ",[]{}#&*!|>'\"%@`".contains(c))
        || (s.starts_with(['-', '?', ':']) && s[1..].chars().next().is_none_or(char::is_whitespace))
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.contains('\n')
        || s.starts_with("0x")
        || s.starts_with("0o")
    {
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A document parsed alone finds, at every line of a file, the object the whole file's
    /// parse finds there, at the same spans and lines (or none, where the caller parses the
    /// whole file): across comments, markers with tags and comments, `...`, lists and CRLF.
    #[test]
    fn a_document_parsed_alone_is_where_the_whole_file_has_it() {
        let text = "# leading comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  config.yaml: |\n    key: value\n    list:\n      - x\n...\n--- # second\n\n# comment before\napiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Secret\n    metadata: {name: s}\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: b\n--- !!map\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n---\n---\nkind: Last\n";
        for text in [text.to_string(), text.replace('\n', "\r\n")] {
            let whole = parse(&text).unwrap();
            let parts = documents(&text);
            assert_eq!(parts.starts.len(), 6);
            let mut found = 0;
            for line in 1..=text.lines().count() + 1 {
                let alone = parts.parse(parts.part_of(line)).unwrap();
                let expected = object_at(&whole, line).map(|n| (n.span.clone(), n.line, n.col));
                let got = object_at(&alone, line).map(|n| (n.span.clone(), n.line, n.col));
                if let Some((span, ..)) = &got {
                    found += 1;
                    assert!(text[span.clone()].contains("kind:"), "line {line}");
                    assert_eq!(got, expected, "line {line}");
                }
            }
            assert!(found >= 10, "{found}");
        }
        // A lone carriage return is a line break to the parser: such a file is one part. A
        // marker followed by a no-break space is not a marker.
        assert_eq!(documents("a: 1\r---\nb: 2\n").starts.len(), 1);
        assert_eq!(documents("a: 1\n---\u{a0}x\n").starts.len(), 1);
        assert_eq!(documents("%YAML 1.2\n---\na: 1\n").starts.len(), 2);
    }

    /// Applies `set` at `path` on the object starting at `line`; returns the new text.
    fn edit(text: &str, line: usize, path: &str, value: Option<Value>) -> Result<String, String> {
        let docs = parse(text)?;
        let object = object_at(&docs, line).ok_or("no object")?;
        let path = crate::model::pointer::parse(path).unwrap();
        let splices = set(text, object, &path, value.as_ref())?;
        apply(text, &splices)
    }

    const DEPLOYMENT: &str = r#"# The web front end.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web   # keep this name
  labels:
    tier: 'front'
spec:
  replicas: 2     # scaled by hand in emergencies
  template:
    spec:
      containers:
        - name: web
          image: "registry.example.com/web:1.4.2"
          args:
            - --port=8080
            - --verbose
"#;

    #[test]
    fn a_scalar_changes_and_every_other_byte_stays() {
        let out = edit(DEPLOYMENT, 2, "/spec/replicas", Some(json!(5))).unwrap();
        assert_eq!(
            out,
            DEPLOYMENT.replace("replicas: 2     #", "replicas: 5     #")
        );
        // Quoting is kept: double stays double, single stays single.
        let out = edit(
            DEPLOYMENT,
            2,
            "/spec/template/spec/containers/0/image",
            Some(json!("registry.example.com/web:1.4.3")),
        )
        .unwrap();
        assert_eq!(out, DEPLOYMENT.replace("web:1.4.2\"", "web:1.4.3\""));
        let out = edit(DEPLOYMENT, 2, "/metadata/labels/tier", Some(json!("it's"))).unwrap();
        assert_eq!(out, DEPLOYMENT.replace("'front'", "'it''s'"));
        // A plain scalar that would read back as something else is quoted.
        let out = edit(DEPLOYMENT, 2, "/metadata/name", Some(json!("true"))).unwrap();
        assert_eq!(
            out,
            DEPLOYMENT.replace("name: web   #", "name: \"true\"   #")
        );
    }

    #[test]
    fn keys_and_elements_are_added_and_removed_as_whole_lines() {
        let out = edit(DEPLOYMENT, 2, "/spec/paused", Some(json!(true))).unwrap();
        assert_eq!(
            out,
            DEPLOYMENT.replace(
                "            - --verbose\n",
                "            - --verbose\n  paused: true\n"
            )
        );
        let out = edit(
            DEPLOYMENT,
            2,
            "/spec/template/spec/containers/0/args/-",
            Some(json!("--debug")),
        )
        .unwrap();
        assert_eq!(
            out,
            DEPLOYMENT.replace(
                "            - --verbose\n",
                "            - --verbose\n            - --debug\n"
            )
        );
        let out = edit(DEPLOYMENT, 2, "/metadata/labels/tier", None).unwrap_err();
        assert!(out.contains("only entry"), "{out}");
        let out = edit(DEPLOYMENT, 2, "/spec/replicas", None).unwrap();
        assert_eq!(
            out,
            DEPLOYMENT.replace("  replicas: 2     # scaled by hand in emergencies\n", "")
        );
        let out = edit(
            DEPLOYMENT,
            2,
            "/spec/template/spec/containers/0/args/1",
            None,
        )
        .unwrap();
        assert_eq!(out, DEPLOYMENT.replace("            - --verbose\n", ""));
        // A path below a missing map: the rest is written as one flow value.
        let out = edit(
            DEPLOYMENT,
            2,
            "/spec/strategy/rollingUpdate/maxSurge",
            Some(json!(1)),
        )
        .unwrap();
        assert!(
            out.ends_with("  strategy: {\"rollingUpdate\":{\"maxSurge\":1}}\n"),
            "{out}"
        );
    }

    #[test]
    fn collections_are_replaced_in_flow_style() {
        let out = edit(
            DEPLOYMENT,
            2,
            "/spec/template/spec/containers/0/args",
            Some(json!(["--port=9090"])),
        )
        .unwrap();
        assert_eq!(
            out,
            DEPLOYMENT.replace(
                "          args:\n            - --port=8080\n            - --verbose\n",
                "          args: [\"--port=9090\"]\n"
            )
        );
    }

    const MULTI: &str = "# first\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  k: v\n---\n# second, untouched\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\ndata:\n  k: \"v\"\n...\n---\napiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: c\n    data:\n      k: v\n";

    #[test]
    fn documents_and_list_items_are_found_by_line_and_edited_alone() {
        let out = edit(MULTI, 9, "/data/k", Some(json!("w"))).unwrap();
        assert_eq!(out, MULTI.replace("  k: \"v\"", "  k: \"w\""));
        let out = edit(MULTI, 20, "/data/k", Some(json!("w"))).unwrap();
        assert_eq!(out, MULTI.replace("      k: v\n", "      k: w\n"));
        let out = edit(MULTI, 2, "/data/k", Some(json!("w"))).unwrap();
        assert_eq!(out, MULTI.replacen("  k: v\n", "  k: w\n", 1));
        // Flow collections are not edited key by key.
        let err = edit(MULTI, 2, "/metadata/labels", Some(json!({"a": "b"}))).unwrap_err();
        assert!(err.contains("flow"), "{err}");
    }

    #[test]
    fn anchors_and_aliases_are_left_alone() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels: &l\n    a: b\n  annotations: *l\n";
        let err = edit(text, 1, "/metadata/labels/a", Some(json!("c"))).unwrap_err();
        assert!(err.contains("anchor"), "{err}");
        let err = edit(text, 1, "/metadata/annotations/a", Some(json!("c"))).unwrap_err();
        assert!(err.contains("alias") || err.contains("anchor"), "{err}");
    }

    #[test]
    fn plain_strings_that_would_change_meaning_are_quoted() {
        for s in [
            "", "true", "No", "1.5", "0x1f", "- a", "a: b", "#x", " pad", "null", "x #y",
        ] {
            assert!(!plain_safe(s), "{s:?}");
        }
        for s in [
            "web",
            "registry.example.com/web:1.4.2",
            "--port=8080",
            "a-b_c",
        ] {
            assert!(plain_safe(s), "{s:?}");
        }
    }
}
