//! Format-preserving YAML edits: a file is parsed into a tree of nodes that know their byte
//! spans (granit-parser, the parser under serde-saphyr), and each edit replaces, inserts or
//! deletes only the bytes of the nodes it changes. Comments, key order, quoting, indentation,
//! document separators and every other document stay byte for byte as they were.
//!
//! What is edited in place: a scalar replaced by a scalar (in the same quoting style where the
//! value allows it; a block scalar stays a block in its style, chomping and indentation, and a
//! one-line scalar given several lines becomes a literal block); a value of any kind replaced
//! (collections in block style where the old value was a block collection, else in flow style);
//! a key added to a block mapping and an element appended to a block sequence, in block style at
//! their siblings' indentation; a key or element removed from a block collection. Anything else
//! (flow collections, anchors and aliases on the way, multi-line keys) is refused with a reason,
//! so the caller can suggest the change instead.

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
/// `value` (`None`: remove it), in `text`: a scalar in its own style where the value allows it (a
/// block scalar stays a block in its style and indentation), collections in block style where
/// they go into or replace a block collection (in flow style where a scalar was).
pub fn set(
    text: &str,
    object: &Node,
    path: &[String],
    value: Option<&Value>,
) -> Result<Vec<Splice>, String> {
    set_with(text, object, path, value, false)
}

/// [`set`], with a string written double-quoted whatever its style (`quoted`): what a caller
/// falls back to when an edit in the scalar's own style does not read back as the value.
pub fn set_with(
    text: &str,
    object: &Node,
    path: &[String],
    value: Option<&Value>,
    quoted: bool,
) -> Result<Vec<Splice>, String> {
    set_noting(text, object, path, value, quoted).map(|(splices, _)| splices)
}

/// [`set_with`], with why a string that replaces a scalar was written double-quoted where the
/// scalar was in another style (`None` when it kept its style, or `quoted` asked for quotes).
pub fn set_noting(
    text: &str,
    object: &Node,
    path: &[String],
    value: Option<&Value>,
    quoted: bool,
) -> Result<(Vec<Splice>, Option<String>), String> {
    match (walk(object, path)?, value) {
        (Found::Node(node, _), Some(value)) => {
            let splices = replace(text, node, value, quoted)?;
            let note = match (&node.kind, value) {
                (Kind::Scalar(_, style), Value::String(s)) if !quoted => {
                    let written = splices.last().map_or("", |s| s.with.trim_start());
                    (written.starts_with('"') && *style != ScalarStyle::DoubleQuoted)
                        .then(|| why_quoted(*style, s))
                }
                _ => None,
            };
            Ok((splices, note))
        }
        (Found::Node(node, entry), None) => {
            remove(text, object, path, node, entry).map(|s| (s, None))
        }
        (Found::Missing(parent, missing), Some(value)) => {
            add(text, parent, &missing, value).map(|s| (s, None))
        }
        // Already absent.
        (Found::Missing(..), None) => Ok((Vec::new(), None)),
    }
}

/// Why a string could not be written in a scalar's style: what plans say of a value written
/// double-quoted instead.
fn why_quoted(style: ScalarStyle, s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let reason = match style {
        ScalarStyle::Literal | ScalarStyle::Folded => {
            let block = if style == ScalarStyle::Literal {
                "a literal block"
            } else {
                "a folded block"
            };
            if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
                format!("{block} cannot hold its control characters")
            } else if s.trim_matches('\n').is_empty() {
                format!("{block} cannot hold an empty string")
            } else if s.starts_with('\t') {
                format!("{block} cannot start with a tab")
            } else if style == ScalarStyle::Folded
                && s.split('\n').any(|l| l.starts_with([' ', '\t']))
            {
                "a folded block would fold its indented lines".to_string()
            } else {
                format!("{block} here cannot say the indentation its first line starts with")
            }
        }
        ScalarStyle::SingleQuoted => "a single-quoted string of several lines folds them".into(),
        _ if s.contains('\n') => {
            "a string of several lines cannot be a block where it stands".into()
        }
        _ if s.is_empty() => "an empty plain scalar reads as null".into(),
        _ if s.trim() != s => "a plain scalar loses its leading and trailing spaces".into(),
        _ if matches!(lower.as_str(), "yes" | "no" | "on" | "off" | "y" | "n") => {
            format!("plain, YAML 1.1 readers take `{s}` for a boolean")
        }
        _ if matches!(lower.as_str(), "true" | "false") => format!("plain, `{s}` is a boolean"),
        _ if matches!(lower.as_str(), "null" | "~") => format!("plain, `{s}` is null"),
        _ if decimal(s) || s.starts_with("0x") || s.starts_with("0o") => {
            format!("plain, `{s}` is a number")
        }
        _ if yaml11_special(s) => {
            format!("plain, YAML 1.1 readers take `{s}` for a number, a date or a merge key")
        }
        _ => "plain, its characters (an indicator, `: ` or ` #`) would change how it reads".into(),
    };
    format!("written double-quoted: {reason}")
}

fn replace(text: &str, node: &Node, value: &Value, quoted: bool) -> Result<Vec<Splice>, String> {
    if node.anchored || matches!(node.kind, Kind::Alias) {
        return Err("the value is an anchor or alias".into());
    }
    // An empty value (`key:` and nothing after it) is where its key's colon ends; what is
    // written there stands after a space.
    let after_colon;
    let (node, space) = match node.kind {
        // The parser puts an empty value at its key's colon.
        Kind::Scalar(..) if node.span.is_empty() && text[node.span.start..].starts_with(':') => {
            let at = node.span.start + 1;
            after_colon = Node {
                span: at..at,
                ..node.clone()
            };
            (&after_colon, " ")
        }
        _ => (node, ""),
    };
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    if let (Kind::Scalar(_, style @ (ScalarStyle::Literal | ScalarStyle::Folded)), Value::String(s)) =
        (&node.kind, value)
        && !quoted
        && let Some(splice) = block_scalar(text, node, *style, s, newline)
    {
        return Ok(vec![splice]);
    }
    // A string of several lines where a one-line scalar was: a literal block.
    if let (
        Kind::Scalar(_, ScalarStyle::Plain | ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted),
        Value::String(s),
    ) = (&node.kind, value)
        && !quoted
        && s.trim_end_matches('\n').contains('\n')
        && let Some(mut splice) = literal_block(text, node, s, newline)
    {
        splice.with.insert_str(0, space);
        return Ok(vec![splice]);
    }
    // A collection where a one-line scalar stood after its key: a block under the key.
    if let (
        Kind::Scalar(_, ScalarStyle::Plain | ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted),
        Some(lines),
    ) = (&node.kind, block_lines(value))
        && let Some(splice) = block_under_key(text, node, &lines, newline)
    {
        return Ok(vec![splice]);
    }
    let rendered = match (&node.kind, value) {
        (_, Value::String(s)) if quoted => double_quoted(s),
        (Kind::Scalar(_, style), v) if !v.is_object() && !v.is_array() => scalar(v, *style),
        (Kind::Scalar(_, ScalarStyle::Literal | ScalarStyle::Folded), _) => {
            return Err("a block scalar replaced by a collection".into());
        }
        _ => flow(value),
    };
    let mut range = node.span.start..content_end(text, node);
    if let Kind::Scalar(_, ScalarStyle::Literal | ScalarStyle::Folded) = node.kind {
        // A block scalar written as a quoted one: from its header, its content lines go too.
        let header = block_header(text, node).ok_or("a block scalar without its header")?;
        range = header..block_scalar_end(text, header).0;
    }
    range.end = range.end.min(text.len());
    // A block collection that starts on its own line (under `key:`) is replaced from the end of
    // the key's line: a collection stays in block style there, anything else stands on the
    // key's line.
    if matches!(
        node.kind,
        Kind::Map(_, StructureStyle::Block) | Kind::Seq(_, StructureStyle::Block)
    ) {
        let line_start = text[..range.start].rfind('\n').map_or(0, |i| i + 1);
        if text[line_start..range.start].trim().is_empty() {
            let before = text[..line_start].trim_end_matches(['\n', '\r']);
            // A sequence is indented where its dashes are.
            let column = match node.kind {
                Kind::Seq(..) if !text[range.start..].starts_with('-') => {
                    (range.start - line_start).saturating_sub(2)
                }
                _ => range.start - line_start,
            };
            let with = match block_lines(value) {
                Some(lines) => indented(&lines, column, newline),
                None => format!(" {rendered}"),
            };
            return Ok(vec![Splice {
                range: before.len()..range.end,
                with,
            }]);
        }
        // A mapping that starts on its list item's dash line (`- name: a`): the first entry
        // stays on that line, the others under it.
        // Written as a list's element (`name` first), less the dash and its indentation.
        if let (Kind::Map(..), Value::Object(_), Some(lines)) = (
            &node.kind,
            value,
            block_lines(&Value::Array(vec![value.clone()])),
        ) && text[line_start..range.start].trim_end().ends_with('-')
            && text[line_start..range.start]
                .chars()
                .all(|c| c == '-' || c == ' ')
        {
            let column = range.start - line_start;
            let lines: Vec<String> = lines.iter().map(|l| l[2..].to_string()).collect();
            let mut with = lines[0].clone();
            with.push_str(&indented(&lines[1..], column, newline));
            return Ok(vec![Splice { range, with }]);
        }
    }
    Ok(vec![Splice {
        range,
        with: format!("{space}{rendered}"),
    }])
}

/// A one-line scalar after its key (`key: value`, nothing after it but the line's end) replaced
/// by a collection in block style, two columns in from the key. `None` elsewhere (flow context,
/// a comment after the value, a list item's own scalar).
fn block_under_key(text: &str, node: &Node, lines: &[String], newline: &str) -> Option<Splice> {
    let line_start = text[..node.span.start].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..node.span.start];
    let line_end = text[node.span.end..]
        .find('\n')
        .map_or(text.len(), |i| node.span.end + i);
    let after = text[node.span.end.min(line_end)..line_end].trim_end_matches('\r');
    if before.contains(['{', '[', '#'])
        || !before.trim_end().ends_with(':')
        || !after.trim().is_empty()
    {
        return None;
    }
    let key_end = line_start + before.trim_end().len();
    let base = indicator_base(text, node.span.start);
    Some(Splice {
        range: key_end..node.span.end,
        with: indented(lines, base + 2, newline),
    })
}

/// Where a node's content ends: a block scalar's with its last content line (the parser's span
/// may reach into what follows), a block collection's with its last child's.
pub fn content_end(text: &str, node: &Node) -> usize {
    match &node.kind {
        Kind::Scalar(_, ScalarStyle::Literal | ScalarStyle::Folded) => block_header(text, node)
            .map_or(node.span.end, |header| block_scalar_end(text, header).0),
        Kind::Map(entries, StructureStyle::Block) if !entries.is_empty() => {
            content_end(text, &entries[entries.len() - 1].1)
        }
        Kind::Seq(items, StructureStyle::Block) if !items.is_empty() => {
            content_end(text, &items[items.len() - 1])
        }
        _ => node.span.end,
    }
    .min(text.len())
}

/// Where a sequence item starts on its dash's line: a block scalar's content starts on the line
/// after its header.
fn item_start(text: &str, item: &Node) -> usize {
    match item.kind {
        Kind::Scalar(_, ScalarStyle::Literal | ScalarStyle::Folded) => {
            block_header(text, item).unwrap_or(item.span.start)
        }
        _ => item.span.start,
    }
}

/// The byte of a sequence item's dash: on the item's line, or on a line before it when only
/// comments or nothing follow the dash there (`- # note` above a mapping).
fn dash_of(text: &str, item: &Node) -> Option<usize> {
    let start = item_start(text, item);
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    if let Some(at) = text[line_start..start].rfind('-') {
        return Some(line_start + at);
    }
    let mut end = line_start.checked_sub(1)?;
    loop {
        let line_start = text[..end].rfind('\n').map_or(0, |i| i + 1);
        let line = text[line_start..end].trim_end_matches('\r');
        let code = match line.find(" #") {
            Some(at) => &line[..at],
            None if line.trim_start().starts_with('#') => "",
            None => line,
        }
        .trim_end();
        if code.ends_with('-') {
            return Some(line_start + code.len() - 1);
        }
        if !code.trim().is_empty() {
            return None;
        }
        end = line_start.checked_sub(1)?;
    }
}

/// Where a block scalar's header (`|`, `>-`, `|2+`) starts: the parser's span starts at its
/// content, the header ends the line before it (empty lines aside).
fn block_header(text: &str, node: &Node) -> Option<usize> {
    let start = node.span.start.min(text.len());
    // A span that starts after other text on its line starts at the header (an empty block);
    // one that starts a line starts at the content, which may itself begin with `|` or `>`.
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    if !text[line_start..start].trim().is_empty() {
        return text[start..].starts_with(['|', '>']).then_some(start);
    }
    let mut end = text[..start].rfind('\n')?;
    loop {
        let line_start = text[..end].rfind('\n').map_or(0, |i| i + 1);
        let line = text[line_start..end].trim_end_matches('\r');
        if line.trim().is_empty() {
            end = line_start.checked_sub(1)?;
            continue;
        }
        // The last token before a comment.
        let code = match line.find(" #") {
            Some(at) => &line[..at],
            None => line,
        };
        let token_start = code.trim_end().rfind([' ', '\t']).map_or(0, |i| i + 1);
        let token = code.trim_end()[token_start..].to_string();
        let header =
            token.starts_with(['|', '>']) && token[1..].chars().all(|c| "+-123456789".contains(c));
        return header.then_some(line_start + token_start);
    }
}

/// Where a block scalar's content ends (the end of its last line that is not empty, before its
/// line break), where its trailing empty lines end, and its content's indentation (`None`: no
/// content); `header` is where its header starts.
fn block_scalar_end(text: &str, header: usize) -> (usize, usize, Option<usize>) {
    let header_end = text[header..].find('\n').map_or(text.len(), |i| header + i);
    // The content's indentation: said by the header (`|2`), or the first line that is not
    // empty's (at least one more than the line the header is on).
    let line_start = text[..header].rfind('\n').map_or(0, |i| i + 1);
    let header_indent = text[line_start..].len() - text[line_start..].trim_start_matches(' ').len();
    let said = text[header + 1..header_end]
        .chars()
        .take_while(|c| "+-123456789".contains(*c))
        .find_map(|c| c.to_digit(10));
    let (mut content_end, mut empty_end) = (header_end, header_end);
    let mut indent = said.map(|d| indicator_base(text, header) + d as usize);
    let mut at = header_end;
    // The end of the text past a final line break is not a line.
    while at + 1 < text.len() {
        let next = text[at + 1..].find('\n').map_or(text.len(), |i| at + 1 + i);
        let line = text[at + 1..next].trim_end_matches('\r');
        if line.trim().is_empty() {
            empty_end = next;
            at = next;
            continue;
        }
        let spaces = line.len() - line.trim_start_matches(' ').len();
        let indent = *indent.get_or_insert(spaces);
        if spaces < indent || spaces <= header_indent {
            break;
        }
        content_end = at + 1 + line.len();
        empty_end = next;
        at = next;
    }
    (
        content_end.min(text.len()),
        empty_end.min(text.len()),
        indent,
    )
}

/// The column a block scalar's indentation indicator counts from, for a scalar that starts at
/// `at`: the key's column, or the dash's for an item that is the scalar itself (`- |2`).
fn indicator_base(text: &str, at: usize) -> usize {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let before = text[line_start..at].trim_end();
    if before.ends_with('-') {
        return before.len() - 1;
    }
    let mut column = before.len() - before.trim_start().len();
    while before[column..].starts_with("- ") {
        column += 1;
        column += before[column..].len() - before[column..].trim_start().len();
    }
    column
}

/// A string written as a block scalar (`|` or `>`) whose content is at `indent` and whose
/// indicator counts from `base`, `comment` after the header: the header and content lines (each
/// after a line break), and how many line breaks end the string. `None` for strings a block
/// cannot hold (control characters, nothing but line breaks, a leading tab, and in a folded
/// block, lines that start with a space).
fn block_text(
    style: ScalarStyle,
    value: &str,
    (indent, base): (usize, usize),
    comment: &str,
    newline: &str,
) -> Option<(String, usize)> {
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
        || value.trim_matches('\n').is_empty()
        || value.starts_with('\t')
    {
        return None;
    }
    let indicator = if style == ScalarStyle::Literal {
        '|'
    } else {
        '>'
    };
    let body = value.trim_end_matches('\n');
    let trailing = value.len() - body.len();
    let chomp = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    // A first line that starts with a space needs the indentation said.
    let explicit = body
        .split('\n')
        .find(|l| !l.is_empty())
        .is_some_and(|l| l.starts_with(' '));
    let step = indent.checked_sub(base).filter(|s| (1..=9).contains(s));
    let mut with = match (explicit, step) {
        (false, _) => format!("{indicator}{chomp}{comment}"),
        (true, Some(step)) => format!("{indicator}{step}{chomp}{comment}"),
        (true, None) => return None,
    };
    let lines: Vec<&str> = if style == ScalarStyle::Literal {
        body.split('\n').collect()
    } else {
        // Folded: a line break between two lines is written as an empty line, each run of
        // breaks as that many empty lines; more-indented lines are not folded, so they are
        // written literally only where the value has none.
        if body.split('\n').any(|l| l.starts_with([' ', '\t'])) {
            return None;
        }
        let mut lines = Vec::new();
        let mut breaks = 0;
        for (i, line) in body.split('\n').enumerate() {
            if line.is_empty() {
                breaks += 1;
                continue;
            }
            let empty = if i > 0 && !lines.is_empty() {
                breaks + 1
            } else {
                breaks
            };
            lines.extend(std::iter::repeat_n("", empty));
            breaks = 0;
            lines.push(line);
        }
        lines
    };
    for line in lines {
        with.push_str(newline);
        if !line.is_empty() {
            with.push_str(&" ".repeat(indent));
            with.push_str(line);
        }
    }
    // Kept line breaks past the first are empty lines of the block.
    for _ in 1..trailing.max(1) {
        with.push_str(newline);
    }
    Some((with, trailing))
}

/// Where a kept block (`|+`) written over `..end` must end so that the file's line break after
/// it is its last (a carriage return before `end` replaced too), and whether the text has none
/// there (the block then writes its own).
fn kept_end(text: &str, end: usize) -> (usize, bool) {
    let end = if end > 0 && text.as_bytes().get(end - 1) == Some(&b'\r') {
        end - 1
    } else {
        end
    };
    (end, end >= text.len())
}

/// A block scalar replaced by a string in its own style (`|` or `>`), header (chomping,
/// indentation indicator, comment) and indentation, where the string allows it.
fn block_scalar(
    text: &str,
    node: &Node,
    style: ScalarStyle,
    value: &str,
    newline: &str,
) -> Option<Splice> {
    let start = block_header(text, node)?;
    let header_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let header = text[start..header_end].trim_end_matches('\r');
    // What follows the indicators (spaces, a comment) is kept as it is.
    let comment = header.trim_start_matches(|c: char| "|>+-123456789".contains(c));
    // The content's indentation, as the file has it.
    let (content_end, empty_end, indent) = block_scalar_end(text, start);
    let indent = indent?;
    let base = indicator_base(text, start);
    let (mut with, trailing) = block_text(style, value, (indent, base), comment, newline)?;
    // A kept block replaces the file's own empty lines after it (they would add to it).
    let end = if trailing > 1 {
        let (end, at_end) = kept_end(text, empty_end.max(content_end));
        if at_end {
            with.push_str(newline);
        }
        end
    } else {
        content_end
    };
    Some(Splice {
        range: start..end,
        with,
    })
}

/// A plain or quoted scalar in block context replaced by a string of several lines: a literal
/// block (`|`), its content two columns in from its key or dash, the line's comment after the
/// header. `None` in flow context or where a block cannot hold the string.
fn literal_block(text: &str, node: &Node, value: &str, newline: &str) -> Option<Splice> {
    let line_start = text[..node.span.start].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..node.span.start];
    let line_end = text[node.span.end..]
        .find('\n')
        .map_or(text.len(), |i| node.span.end + i);
    let line_end = if text[..line_end].ends_with('\r') {
        line_end - 1
    } else {
        line_end
    };
    let after = &text[node.span.end.min(line_end)..line_end];
    let block_context = !before.contains(['{', '[', '#'])
        && (before.trim_end().ends_with(':') || before.trim_end().ends_with('-'));
    if !block_context || !(after.trim().is_empty() || after.trim_start().starts_with('#')) {
        return None;
    }
    let base = indicator_base(text, node.span.start);
    let comment = if after.trim().is_empty() { "" } else { after };
    let (mut with, trailing) = block_text(
        ScalarStyle::Literal,
        value,
        (base + 2, base),
        comment,
        newline,
    )?;
    let (end, at_end) = kept_end(text, line_end);
    if trailing > 1 && at_end {
        with.push_str(newline);
    }
    Some(Splice {
        range: node.span.start..end,
        with,
    })
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
            dash_of(text, node).ok_or("a sequence item without a dash")?
        }
        _ => return Err("removing from a flow collection".into()),
    };
    let line_start = text[..start_at].rfind('\n').map_or(0, |i| i + 1);
    if !text[line_start..start_at].trim().is_empty() {
        // `- key: value` with the key on the dash's line: only whole lines are removed.
        return Err("the entry shares its line with its parent".into());
    }
    let node_end = content_end(text, node);
    let end = text[node_end..]
        .find('\n')
        .map_or(text.len(), |i| node_end + i + 1);
    // A collection's only entry is not removed (the parent would have to be written empty).
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
                content_end(text, last_value)
                    .saturating_sub(1)
                    .max(last_value.span.start),
            );
            if first == "-" || first.parse::<usize>().is_ok() {
                return Err("a list index under a mapping".into());
            }
            let line = match block_lines(&nested) {
                Some(lines) => format!(
                    "{newline}{indent}{}:{}",
                    key(first),
                    indented(&lines, first_key.col + 2, newline)
                ),
                None => format!("{newline}{indent}{}: {}", key(first), value_text(&nested)),
            };
            Ok(vec![after_line(text, at, line, newline)])
        }
        Kind::Seq(items, StructureStyle::Block)
            if missing.len() == 1
                && (first == "-" || first.parse::<usize>() == Ok(items.len())) =>
        {
            let first_item = items.first().ok_or("an empty block sequence")?;
            let dash_at = dash_of(text, first_item).ok_or("a sequence item without a dash")?;
            let dash = dash_at - text[..dash_at].rfind('\n').map_or(0, |i| i + 1);
            let indent = " ".repeat(dash);
            let last = items.last().expect("not empty");
            let at = end_of_line(
                content_end(text, last)
                    .saturating_sub(1)
                    .max(last.span.start),
            );
            // An element in block style at its siblings' dashes: a mapping's first key on the
            // dash's line, the rest under it.
            let with = match block_lines(&Value::Array(vec![nested.clone()])) {
                Some(lines) => indented(&lines, dash, newline),
                None => format!("{newline}{indent}- {}", value_text(&nested)),
            };
            Ok(vec![after_line(text, at, with, newline)])
        }
        Kind::Seq(..) => Err("an element added inside a sequence, not at its end".into()),
        _ => Err("adding to a flow collection".into()),
    }
}

/// Lines that start with a line break, inserted after the line that ends at `at`: at the start
/// of the next line (written ending with a line break instead), so that an edit removing the
/// line before does not touch the same place; at the end of a text without a last line break,
/// where the line ends.
fn after_line(text: &str, at: usize, lines: String, newline: &str) -> Splice {
    match text[at..].find('\n').map(|i| at + i + 1) {
        Some(next) => Splice {
            range: next..next,
            with: format!("{}{newline}", &lines[newline.len()..]),
        },
        None => Splice {
            range: at..at,
            with: lines,
        },
    }
}

/// A collection in block style, as lines indented from column 0 (each nested level two more):
/// mappings' keys in the value's order but for a list element's `name`, first as Kubernetes
/// writes it; scalars and empty collections on their key's or dash's line. `None` for a scalar or
/// an empty collection, which stand on one line.
fn block_lines(value: &Value) -> Option<Vec<String>> {
    fn entry(prefix: String, value: &Value, lines: &mut Vec<String>) {
        match block_lines(value) {
            Some(inner) => {
                lines.push(prefix.trim_end().to_string());
                lines.extend(inner.into_iter().map(|l| format!("  {l}")));
            }
            None => lines.push(format!("{prefix}{}", value_text(value))),
        }
    }
    let mut lines = Vec::new();
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                entry(format!("{}: ", key(k)), v, &mut lines);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                match item {
                    Value::Object(map) if !map.is_empty() => {
                        // `name` first, then the rest in order.
                        let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                        if let Some(at) = entries.iter().position(|(k, _)| *k == "name") {
                            let name = entries.remove(at);
                            entries.insert(0, name);
                        }
                        let mut inner = Vec::new();
                        for (k, v) in entries {
                            entry(format!("{}: ", key(k)), v, &mut inner);
                        }
                        let mut inner = inner.into_iter();
                        lines.push(format!("- {}", inner.next().unwrap_or_default()));
                        lines.extend(inner.map(|l| format!("  {l}")));
                    }
                    other => entry("- ".to_string(), other, &mut lines),
                }
            }
        }
        _ => return None,
    }
    Some(lines)
}

/// Lines of [`block_lines`] written at `column`, each on its own line.
fn indented(lines: &[String], column: usize, newline: &str) -> String {
    let indent = " ".repeat(column);
    lines
        .iter()
        .map(|l| format!("{newline}{indent}{l}"))
        .collect()
}

/// A string double-quoted (JSON's escapes are YAML's).
fn double_quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
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

/// Whether a string is a decimal number (`inf` and `nan`, which Rust would parse, are strings in
/// YAML: its infinities and not-a-numbers are `.inf` and `.nan`).
fn decimal(s: &str) -> bool {
    s.parse::<f64>().is_ok() && s.contains(|c: char| c.is_ascii_digit())
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
    ) || decimal(s)
        || s.starts_with(|c: char| ",[]{}#&*!|>'\"%@`".contains(c))
        || (s.starts_with(['-', '?', ':']) && s[1..].chars().next().is_none_or(char::is_whitespace))
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.contains('\n')
        || s.starts_with("0x")
        || s.starts_with("0o")
        || yaml11_special(s)
    {
        return false;
    }
    true
}

/// Whether a YAML 1.1 reader (PyYAML, older Go and Ruby libraries) would read a plain string as
/// something else: integers (with `_`, binary, octal, hexadecimal, base 60 as in `1:30`), floats
/// (`.5`, `1.`, `1.5e+3`, base 60, `.inf`, `.nan`), dates and timestamps, `=` and `<<`; PyYAML's
/// resolvers, written out. Such strings are quoted, whatever a YAML 1.2 reader would say.
fn yaml11_special(s: &str) -> bool {
    matches!(s, "=" | "<<") || yaml11_int(s) || yaml11_float(s) || yaml11_timestamp(s)
}

/// `s` without its sign.
fn unsigned(s: &str) -> &str {
    s.strip_prefix(['+', '-']).unwrap_or(s)
}

/// Whether `s` is digits and `_` only (YAML 1.1 lets `_` group digits).
fn digits_or_underscores(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_digit() || c == '_')
}

/// `[0-5]?[0-9]`: a base 60 digit.
fn sexagesimal(part: &str) -> bool {
    match part.as_bytes() {
        [d] => d.is_ascii_digit(),
        [t, d] => (b'0'..=b'5').contains(t) && d.is_ascii_digit(),
        _ => false,
    }
}

/// PyYAML's integer resolver: binary, hexadecimal, octal, decimal and base 60.
fn yaml11_int(s: &str) -> bool {
    let u = unsigned(s);
    if let Some(bits) = u.strip_prefix("0b") {
        return !bits.is_empty() && bits.chars().all(|c| matches!(c, '0' | '1' | '_'));
    }
    if let Some(hex) = u.strip_prefix("0x") {
        return !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit() || c == '_');
    }
    if u == "0" {
        return true;
    }
    if let Some(octal) = u.strip_prefix('0') {
        return !octal.is_empty() && octal.chars().all(|c| matches!(c, '0'..='7' | '_'));
    }
    let mut parts = u.split(':');
    let first = parts.next().unwrap_or_default();
    first.starts_with(|c: char| matches!(c, '1'..='9'))
        && digits_or_underscores(first)
        && parts.all(sexagesimal)
}

/// PyYAML's float resolver: decimal with `.`, exponent, base 60, `.inf` and `.nan`.
fn yaml11_float(s: &str) -> bool {
    if matches!(s, ".nan" | ".NaN" | ".NAN") || matches!(unsigned(s), ".inf" | ".Inf" | ".INF") {
        return true;
    }
    let exponent = |e: &str| {
        e.len() >= 2 && e.starts_with(['+', '-']) && e[1..].chars().all(|c| c.is_ascii_digit())
    };
    let fraction = |f: &str, base60: bool| match f.find(['e', 'E']) {
        Some(i) => !base60 && digits_or_underscores(&f[..i]) && exponent(&f[i + 1..]),
        None => digits_or_underscores(f),
    };
    // `.5`: no sign.
    if let Some(rest) = s.strip_prefix('.') {
        return rest.starts_with(|c: char| c.is_ascii_digit()) && fraction(rest, false);
    }
    let Some((whole, frac)) = unsigned(s).split_once('.') else {
        return false;
    };
    let mut parts = whole.split(':');
    let first = parts.next().unwrap_or_default();
    let base60: Vec<&str> = parts.collect();
    first.starts_with(|c: char| c.is_ascii_digit())
        && digits_or_underscores(first)
        && base60.iter().all(|p| sexagesimal(p))
        && fraction(frac, !base60.is_empty())
}

/// PyYAML's timestamp resolver: `YYYY-MM-DD`, or a date and time with an optional zone.
fn yaml11_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    // `YYYY-MM-DD`.
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        let digits = [0, 1, 2, 3, 5, 6, 8, 9];
        return digits.iter().all(|&i| b[i].is_ascii_digit());
    }
    // Between `min` and `max` digits from `at`, moving past them.
    let take = |min: usize, max: usize, at: &mut usize| {
        let start = *at;
        while *at < b.len() && *at - start < max && b[*at].is_ascii_digit() {
            *at += 1;
        }
        *at - start >= min
    };
    let mut at = 0;
    let expect = |c: u8, at: &mut usize| {
        let ok = b.get(*at) == Some(&c);
        *at += usize::from(ok);
        ok
    };
    if !(take(4, 4, &mut at)
        && expect(b'-', &mut at)
        && take(1, 2, &mut at)
        && expect(b'-', &mut at)
        && take(1, 2, &mut at))
    {
        return false;
    }
    // `T`, `t`, or spaces and tabs.
    match b.get(at) {
        Some(b'T' | b't') => at += 1,
        Some(b' ' | b'\t') => {
            while matches!(b.get(at), Some(b' ' | b'\t')) {
                at += 1;
            }
        }
        _ => return false,
    }
    if !(take(1, 2, &mut at)
        && expect(b':', &mut at)
        && take(2, 2, &mut at)
        && expect(b':', &mut at)
        && take(2, 2, &mut at))
    {
        return false;
    }
    if expect(b'.', &mut at) {
        take(0, usize::MAX, &mut at);
    }
    while matches!(b.get(at), Some(b' ' | b'\t')) {
        at += 1;
    }
    match b.get(at) {
        None => true,
        Some(b'Z') => at + 1 == b.len(),
        Some(b'+' | b'-') => {
            at += 1;
            if !take(1, 2, &mut at) {
                return false;
            }
            if expect(b':', &mut at) && !take(2, 2, &mut at) {
                return false;
            }
            at == b.len()
        }
        _ => false,
    }
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

    /// The YAML 1.1 resolvers agree with PyYAML's on what is not a string.
    #[test]
    fn yaml11_specials_are_pyyamls() {
        for special in [
            "1_000",
            "0b101",
            "017",
            "0x1F",
            "+12",
            "1:30",
            "190:20:30",
            "1.5",
            "1.",
            ".5",
            "-1.5e+3",
            "1:30.5",
            ".inf",
            "-.Inf",
            ".NaN",
            "2024-01-31",
            "2001-12-14t21:59:43.10-05:00",
            "2001-12-14 21:59:43.10 Z",
            "2001-1-2T3:04:05",
            "=",
            "<<",
        ] {
            assert!(yaml11_special(special), "{special}");
        }
        for string in [
            "1.0.3",
            "8000-9000",
            "1.4.2-rc.1",
            "v1.2",
            "1:60",
            "1.5e3",
            "0b2",
            "0x",
            "09",
            "2024-1-2",
            "2024-01-31x",
            ".5.5",
            "1e+5",
            "12:30:45abc",
            "-",
            "1-2",
        ] {
            assert!(!yaml11_special(string), "{string}");
        }
        // Words Rust parses as floats are strings in YAML; numbers YAML 1.2 reads are quoted.
        for word in ["inf", "nan", "Infinity", "-inf"] {
            assert!(plain_safe(word), "{word}");
        }
        assert!(!plain_safe("1e5") && !plain_safe("1.5e3"));
    }

    /// Collections that replace a scalar after its key, or a list item's mapping, are written in
    /// block style; an empty value takes a scalar after its key.
    #[test]
    fn collections_replacing_scalars_and_list_items_are_block_style() {
        let text = "spec:\n  selector: null\n  ports:\n    - name: http\n      port: 80\n  empty:\n  note: x # why\n";
        let value = json!({"app": "web", "tier": "front"});
        assert_eq!(
            edit(text, 1, "/spec/selector", Some(value.clone())).unwrap(),
            "spec:\n  selector:\n    app: web\n    tier: front\n  ports:\n    - name: http\n      port: 80\n  empty:\n  note: x # why\n"
        );
        assert_eq!(
            edit(
                text,
                1,
                "/spec/ports/0",
                Some(json!({"port": 8080, "name": "web", "protocol": "TCP"}))
            )
            .unwrap(),
            "spec:\n  selector: null\n  ports:\n    - name: web\n      port: 8080\n      protocol: TCP\n  empty:\n  note: x # why\n"
        );
        let filled = edit(text, 1, "/spec/empty", Some(json!("now"))).unwrap();
        let read: Value = serde_saphyr::from_str(&filled).unwrap();
        assert_eq!(read["spec"]["empty"], "now", "{filled}");
        let block = edit(text, 1, "/spec/empty", Some(json!("a\nb\n"))).unwrap();
        assert!(
            block.contains("  empty: |\n    a\n    b\n  note"),
            "{block}"
        );
        let listed = edit(text, 1, "/spec/empty", Some(json!(["a", "b"]))).unwrap();
        assert!(
            listed.contains("  empty:\n    - a\n    - b\n  note"),
            "{listed}"
        );
        // A comment after the value: it stays, the collection in flow style beside it.
        let commented = edit(text, 1, "/spec/note", Some(value)).unwrap();
        let read: Value = serde_saphyr::from_str(&commented).unwrap();
        assert_eq!(read["spec"]["note"]["tier"], "front", "{commented}");
        assert!(commented.contains("# why"), "{commented}");
    }

    /// A string written double-quoted where the scalar had another style says why; one kept in
    /// its style says nothing.
    #[test]
    fn a_string_written_double_quoted_says_why() {
        let text =
            "data:\n  motd: >\n    one\n    two\n  mode: fast\n  tier: 'a'\n  quoted: \"x\"\n";
        let docs = parse(text).unwrap();
        let note = |path: &str, value: &str| {
            let path = crate::model::pointer::parse(path).unwrap();
            let (splices, note) =
                set_noting(text, &docs[0], &path, Some(&json!(value)), false).unwrap();
            let edited = apply(text, &splices).unwrap();
            let read: Value = serde_saphyr::from_str(&edited).unwrap();
            assert_eq!(
                read.pointer(&format!("/{}", path.join("/"))).unwrap(),
                value
            );
            note
        };
        assert_eq!(
            note("/data/motd", "one\n  indented\n").as_deref(),
            Some("written double-quoted: a folded block would fold its indented lines")
        );
        assert_eq!(note("/data/motd", "three\nfour\n"), None);
        assert_eq!(
            note("/data/mode", "2024-01-01").as_deref(),
            Some(
                "written double-quoted: plain, YAML 1.1 readers take `2024-01-01` for a number, a date or a merge key"
            )
        );
        assert_eq!(
            note("/data/mode", " padded").as_deref(),
            Some("written double-quoted: a plain scalar loses its leading and trailing spaces")
        );
        assert_eq!(note("/data/mode", "slow"), None);
        assert_eq!(note("/data/tier", "b"), None);
        assert_eq!(note("/data/quoted", "yes"), None);
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
        // A key renamed: the last entry removed and a key added to the same mapping.
        let text = "a: 1\nb: 2\n";
        let docs = parse(text).unwrap();
        let mut splices = set(text, &docs[0], &["b".to_string()], None).unwrap();
        splices.extend(set(text, &docs[0], &["c".to_string()], Some(&json!(3))).unwrap());
        assert_eq!(apply(text, &splices).unwrap(), "a: 1\nc: 3\n");
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
        // A path below a missing map: the rest is written in block style.
        let out = edit(
            DEPLOYMENT,
            2,
            "/spec/strategy/rollingUpdate/maxSurge",
            Some(json!(1)),
        )
        .unwrap();
        assert!(
            out.ends_with("  strategy:\n    rollingUpdate:\n      maxSurge: 1\n"),
            "{out}"
        );
        // An element added to a list of mappings: in block style at its siblings' dashes,
        // `name` first.
        let out = edit(
            DEPLOYMENT,
            2,
            "/spec/template/spec/containers/-",
            Some(json!({"image": "sidecar:1", "name": "side", "ports": [{"containerPort": 80}]})),
        )
        .unwrap();
        assert_eq!(
            out,
            DEPLOYMENT.replace(
                "            - --verbose\n",
                "            - --verbose\n        - name: side\n          image: sidecar:1\n          ports:\n            - containerPort: 80\n"
            )
        );
    }

    #[test]
    fn block_collections_are_replaced_in_block_style() {
        let out = edit(
            DEPLOYMENT,
            2,
            "/spec/template/spec/containers/0/args",
            Some(json!(["--port=9090", "yes"])),
        )
        .unwrap();
        assert_eq!(
            out,
            DEPLOYMENT.replace(
                "          args:\n            - --port=8080\n            - --verbose\n",
                "          args:\n            - --port=9090\n            - \"yes\"\n"
            )
        );
        let out = edit(
            DEPLOYMENT,
            2,
            "/metadata/labels",
            Some(json!({"a": "b", "c": "1"})),
        )
        .unwrap();
        assert_eq!(
            out,
            DEPLOYMENT.replace("    tier: 'front'\n", "    a: b\n    c: \"1\"\n")
        );
        // Emptied: on the key's line.
        let out = edit(DEPLOYMENT, 2, "/metadata/labels", Some(json!({}))).unwrap();
        assert_eq!(
            out,
            DEPLOYMENT.replace("  labels:\n    tier: 'front'\n", "  labels: {}\n")
        );
    }

    const CONFIG: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  config.yaml: |\n    key: value\n    list:\n      - x\n\n  strip: |-   # no final break\n      indented four\n  keep: |+\n    kept\n\n  folded: >\n    one long\n    line\n\n    second paragraph\n  level: info\n";

    /// Reads a file's only document as JSON.
    fn read(text: &str) -> Value {
        serde_saphyr::from_str(text).unwrap()
    }

    #[test]
    fn block_scalars_are_edited_as_blocks_in_their_own_style() {
        let cases = [
            ("/data/config.yaml", "key: other\nlist:\n  - y\n"),
            ("/data/config.yaml", "no final break"),
            ("/data/config.yaml", "kept\n\n\n"),
            ("/data/config.yaml", "  starts indented\nthen not\n"),
            ("/data/strip", "two\nlines"),
            ("/data/keep", "kept\nstill\n\n"),
            ("/data/keep", "now clipped\n"),
            (
                "/data/folded",
                "a long line\nand a break\n\nand a paragraph\n",
            ),
            ("/data/folded", "\nleading break"),
        ];
        for crlf in [false, true] {
            let text = if crlf {
                CONFIG.replace('\n', "\r\n")
            } else {
                CONFIG.to_string()
            };
            for (path, value) in cases {
                let out = edit(&text, 1, path, Some(json!(value))).unwrap();
                let mut expected = read(&text);
                *expected.pointer_mut(path).unwrap() = json!(value);
                assert_eq!(read(&out), expected, "{path} = {value:?}\n{out}");
                // Still a block, in its own style, and the lines before it unchanged.
                let key = path.rsplit('/').next().unwrap();
                let at = out.find(&format!("{key}: ")).unwrap();
                let header = &out[at + key.len() + 2..];
                let style = if key == "folded" { '>' } else { '|' };
                assert!(header.starts_with(style), "{path}: {header}");
                assert_eq!(out[..at], text[..at], "{path}");
                // The keys after it are where they were.
                assert!(out.ends_with(if crlf {
                    "  level: info\r\n"
                } else {
                    "  level: info\n"
                }));
            }
        }
        // A one-line scalar given several lines becomes a literal block, its comment after the
        // header.
        let text = CONFIG.replace("  level: info\n", "  level: info # inline\n  last: x\n");
        let out = edit(&text, 1, "/data/level", Some(json!("a\n  b\n"))).unwrap();
        assert!(
            out.contains("  level: | # inline\n    a\n      b\n  last: x\n"),
            "{out}"
        );
        assert_eq!(read(&out)["data"]["level"], json!("a\n  b\n"));
        // The header's comment stays.
        let out = edit(CONFIG, 1, "/data/strip", Some(json!("x"))).unwrap();
        assert!(
            out.contains("  strip: |-   # no final break\n      x\n"),
            "{out}"
        );
        // What a block cannot hold is written quoted.
        let out = edit(CONFIG, 1, "/data/strip", Some(json!("bell\u{7}"))).unwrap();
        assert!(out.contains("  strip: \"bell\\u0007\"\n  keep:"), "{out}");
        assert_eq!(read(&out)["data"]["strip"], json!("bell\u{7}"));
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
            "",
            "true",
            "No",
            "1.5",
            "0x1f",
            "- a",
            "a: b",
            "#x",
            " pad",
            "null",
            "x #y",
            // What YAML 1.1 readers take for numbers, dates and specials.
            "1_000",
            "1:30",
            "0b101",
            ".inf",
            "-.Inf",
            ".NaN",
            "2026-12-05",
            "2001-12-14t21:59:43.10-05:00",
            "=",
            "<<",
            "Y",
            "off",
            "~",
            "0777",
        ] {
            assert!(!plain_safe(s), "{s:?}");
        }
        for s in [
            "web",
            "registry.example.com/web:1.4.2",
            "--port=8080",
            "a-b_c",
            "v1.2.3",
            "nginx:1.25",
        ] {
            assert!(plain_safe(s), "{s:?}");
        }
    }

    /// Draws from a generator seeded by the property test: the file and the edit are built
    /// from its seed.
    struct Draw(proptest::test_runner::TestRng);

    impl Draw {
        fn new(seed: u64) -> Draw {
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(&seed.to_le_bytes());
            Draw(proptest::test_runner::TestRng::from_seed(
                proptest::test_runner::RngAlgorithm::ChaCha,
                &bytes,
            ))
        }
        fn next(&mut self) -> u64 {
            proptest::prelude::Rng::next_u64(&mut self.0)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn chance(&mut self, percent: u64) -> bool {
            self.next() % 100 < percent
        }
        fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            from[self.below(from.len())]
        }
    }

    const WORDS: &[&str] = &["alpha", "web", "x1", "a-b", "v1.2", "8080", "true", "api:1"];
    const PHRASES: &[&str] = &[
        "two words",
        "it's",
        "a: b",
        "# not a comment",
        "yes",
        "tab\there",
    ];
    const LINES: &[&str] = &[
        "key: value",
        "  nested: 1",
        "- item",
        "plain text",
        "#hash",
        "| a | table |",
        "> quoted",
    ];

    /// A scalar in a random style, after `key:` (or `- `) at `indent`.
    fn scalar_text(d: &mut Draw, indent: usize) -> String {
        let comment = if d.chance(30) { " # note" } else { "" };
        match d.below(5) {
            0 => format!(" {}{comment}", d.pick(WORDS)),
            1 => format!(" '{}'{comment}", d.pick(PHRASES).replace('\'', "''")),
            2 => format!(
                " {}{comment}",
                serde_json::to_string(d.pick(PHRASES)).unwrap()
            ),
            style => {
                let header = if style == 3 { "|" } else { ">" };
                let chomp = d.pick(&["", "-", "+"]);
                // A literal block sometimes says its indentation and starts more indented.
                let said = style == 3 && d.chance(25);
                let indicator = if said { "2" } else { "" };
                let mut text = format!(" {header}{indicator}{chomp}{comment}");
                let count = 1 + d.below(3);
                for i in 0..count {
                    // Folded lines are separated by empty lines (kept breaks).
                    if style == 4 && i > 0 {
                        text.push('\n');
                    }
                    let mut line = if style == 3 {
                        d.pick(LINES)
                    } else {
                        d.pick(WORDS)
                    };
                    // The first line sets the indentation unless it is said: not a
                    // more-indented one then.
                    if i == 0 && !said {
                        line = line.trim_start();
                    }
                    text.push_str(&format!("\n{}{}", " ".repeat(indent + 2), line));
                }
                text
            }
        }
    }

    /// A value after `key:` at `indent`: a scalar, a block or flow collection, an alias.
    fn value_text(d: &mut Draw, indent: usize, depth: usize, anchors: &mut Vec<String>) -> String {
        let pick = if depth >= 2 { 0 } else { d.below(6) };
        match pick {
            1 => {
                // Named after its content is made: an alias inside would be recursive.
                let inner = map_text(d, indent + 2, depth + 1, anchors);
                let anchor = if d.chance(20) {
                    anchors.push(format!("a{}", anchors.len()));
                    format!(" &{}", anchors.last().unwrap())
                } else {
                    String::new()
                };
                format!("{anchor}{inner}")
            }
            2 => {
                let mut text = String::new();
                // Sequences at the key's column or indented, as files have both.
                let at = if d.chance(50) { indent } else { indent + 2 };
                for _ in 0..1 + d.below(3) {
                    if d.chance(50) {
                        text.push_str(&format!("\n{}-{}", " ".repeat(at), scalar_text(d, at + 2)));
                    } else {
                        let inner = map_text(d, at + 2, depth + 1, anchors);
                        // The first key on the dash's line.
                        let inner = inner.trim_start_matches('\n');
                        text.push_str(&format!("\n{}- {}", " ".repeat(at), &inner[at + 2..]));
                    }
                }
                text
            }
            3 => format!(" {{a: {}, b: [x, 'y']}}", d.pick(WORDS)),
            4 if !anchors.is_empty() => format!(" *{}", anchors[d.below(anchors.len())]),
            _ => scalar_text(d, indent),
        }
    }

    /// A block mapping's entries at `indent`, each on its own line (comments between).
    fn map_text(d: &mut Draw, indent: usize, depth: usize, anchors: &mut Vec<String>) -> String {
        let mut text = String::new();
        for i in 0..1 + d.below(4) {
            if d.chance(15) {
                text.push_str(&format!("\n{}# a comment", " ".repeat(indent)));
            }
            let key = if d.chance(20) {
                format!("k{i}.yaml")
            } else {
                format!("k{i}")
            };
            let value = value_text(d, indent, depth, anchors);
            text.push_str(&format!("\n{}{key}:{value}", " ".repeat(indent)));
        }
        text
    }

    /// A file of one to three documents, sometimes after a comment-only one.
    fn file(d: &mut Draw) -> String {
        let mut text = String::new();
        if d.chance(30) {
            text.push_str("# only a comment\n---\n");
        }
        for i in 0..1 + d.below(3) {
            if i > 0 {
                text.push_str(d.pick(&["---\n", "--- # next\n"]));
            }
            let mut anchors = Vec::new();
            text.push_str(map_text(d, 0, 0, &mut anchors).trim_start_matches('\n'));
            text.push('\n');
        }
        text
    }

    /// Every path to a node of a document: its path, whether an anchor or alias is on the way
    /// (itself included), and the node.
    fn nodes<'n>(
        node: &'n Node,
        path: Vec<String>,
        marked: bool,
        out: &mut Vec<(Vec<String>, bool, &'n Node)>,
    ) {
        let marked = marked || node.anchored || matches!(node.kind, Kind::Alias);
        out.push((path.clone(), marked, node));
        match &node.kind {
            Kind::Map(entries, _) => {
                for (key, value) in entries {
                    let mut path = path.clone();
                    path.push(key.key().unwrap_or_default().to_string());
                    nodes(value, path, marked, out);
                }
            }
            Kind::Seq(items, _) => {
                for (i, item) in items.iter().enumerate() {
                    let mut path = path.clone();
                    path.push(i.to_string());
                    nodes(item, path, marked, out);
                }
            }
            _ => {}
        }
    }

    /// Values an edit writes: strings that need care in every style, numbers, booleans, null,
    /// collections.
    fn new_value(d: &mut Draw) -> Value {
        let strings = [
            "plain",
            "yes",
            "No",
            "0123",
            "1:30",
            "2026-12-05",
            "a: b",
            "# x",
            "  leading",
            "trailing  ",
            "multi\nline\n",
            "multi\nline",
            "ends\n\n",
            "\nleading break",
            "tab\there",
            "quote ' and \"",
            "",
            "~",
            "- dash",
            "{brace",
            "line\n  indented\nback\n",
        ];
        match d.below(10) {
            0 => json!(42),
            1 => json!(true),
            2 => json!({"name": "n", "value": "v"}),
            3 => json!(["a", "b"]),
            _ => json!(strings[d.below(strings.len())]),
        }
    }

    /// Every document of a file that is not empty, as serde-saphyr reads the whole file: the
    /// oracle the edits are checked against (not the slices the editor reads).
    fn whole(text: &str) -> Result<Vec<Value>, String> {
        let docs: Vec<Value> =
            serde_saphyr::from_str_multiple(text).map_err(|e| format!("does not parse: {e}"))?;
        Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
    }

    /// Full-line comments: an edit keeps every one outside what it replaces or removes.
    fn comments(text: &str) -> usize {
        text.lines().filter(|l| l.trim() == "# a comment").count()
    }

    /// One edit of the `map`th mapping document at `path`, made as remediation makes it (in the
    /// value's style, double-quoted where that does not read back) and checked: the whole file
    /// reads as before but for the new value, every line outside the edited ones is as it was,
    /// comments outside what it replaces stay, and a block scalar stays a block where a block
    /// can hold the string.
    /// `Ok(None)` when the edit is refused where refusing is allowed.
    fn edit_checked(
        text: &str,
        map: usize,
        path: &[String],
        value: Option<&Value>,
        op: &str,
    ) -> Result<Option<String>, proptest::test_runner::TestCaseError> {
        use proptest::prelude::*;
        let docs = parse(text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let maps: Vec<&Node> = docs
            .iter()
            .filter(|n| matches!(n.kind, Kind::Map(..)))
            .collect();
        let object = maps[map];
        let before = whole(text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(before.len(), maps.len());
        let mut expected = before.clone();
        if op == "append" {
            let parent = &path[..path.len() - 1];
            let mut list = crate::remediate::planning::pointer(&expected[map], parent)
                .cloned()
                .unwrap();
            list.as_array_mut().unwrap().push(value.cloned().unwrap());
            crate::remediate::planning::set_pointer(&mut expected[map], parent, Some(list));
        } else {
            crate::remediate::planning::set_pointer(&mut expected[map], path, value.cloned());
        }
        let mut all = Vec::new();
        nodes(object, Vec::new(), false, &mut all);
        let (_, marked, node) = all
            .iter()
            .find(|(p, ..)| {
                p.as_slice() == path
                    || (matches!(op, "add" | "append") && p[..] == path[..path.len() - 1])
            })
            .cloned()
            .unwrap();
        let mut outcome = Err(String::new());
        let mut own_style = false;
        for quoted in [false, true] {
            outcome = set_with(text, object, path, value, quoted).and_then(|splices| {
                let edited = apply(text, &splices)?;
                let after = whole(&edited)?;
                if after != expected {
                    return Err("reads back otherwise".to_string());
                }
                Ok((splices, edited))
            });
            own_style = outcome.is_ok() && !quoted;
            if outcome.is_ok() || !value.is_some_and(Value::is_string) {
                break;
            }
        }
        let scalar_to_scalar = op == "replace"
            && matches!(node.kind, Kind::Scalar(..))
            && value.is_some_and(|v| !v.is_object() && !v.is_array());
        let into_block = matches!(op, "add" | "append")
            && matches!(
                node.kind,
                Kind::Map(_, StructureStyle::Block) | Kind::Seq(_, StructureStyle::Block)
            );
        TRIED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match outcome {
            Ok((splices, edited)) => {
                MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if let (
                    Kind::Scalar(_, style @ (ScalarStyle::Literal | ScalarStyle::Folded)),
                    Some(Value::String(new)),
                ) = (&node.kind, value)
                    && !marked
                {
                    let holds = !new.trim_matches('\n').is_empty()
                        && !new.starts_with('\t')
                        && !new
                            .chars()
                            .any(|c| c.is_control() && c != '\n' && c != '\t')
                        && (*style == ScalarStyle::Literal
                            || !new.split('\n').any(|l| l.starts_with([' ', '\t'])));
                    prop_assert!(!holds || own_style, "{new:?} written quoted:\n{edited}");
                }
                // Only the lines of the node edited (or of the entry removed) changed.
                let first = splices.iter().map(|s| s.range.start).min().unwrap_or(0);
                let last = splices.iter().map(|s| s.range.end).max().unwrap_or(0);
                // Up to the next line that is not empty after the node (a kept block's empty
                // lines are its own).
                let mut limit = content_end(text, node);
                limit = text[limit..]
                    .find('\n')
                    .map_or(text.len(), |i| limit + i + 1);
                while limit < text.len() {
                    let next = text[limit..]
                        .find('\n')
                        .map_or(text.len(), |i| limit + i + 1);
                    if !text[limit..next].trim().is_empty() {
                        break;
                    }
                    limit = next;
                }
                prop_assert!(
                    last <= limit,
                    "an edit past its node:\n{}\n---- became ----\n{}",
                    text,
                    edited
                );
                let head = text[..first].rfind('\n').map_or(0, |i| i + 1);
                let tail = text[last..].find('\n').map_or(text.len(), |i| last + i);
                prop_assert_eq!(&edited[..head], &text[..head]);
                prop_assert!(
                    edited.ends_with(&text[tail..]),
                    "{}\n---- became ----\n{}",
                    text,
                    edited
                );
                // Comments inside a collection replaced or removed go with it; no others do.
                if matches!(op, "add" | "append") || matches!(node.kind, Kind::Scalar(..)) {
                    prop_assert_eq!(comments(&edited), comments(text), "{}", edited);
                }
                Ok(Some(edited))
            }
            Err(reason) => {
                prop_assert!(
                    !(scalar_to_scalar || into_block) || marked,
                    "{op} {path:?} = {value:?} refused: {reason}\n{text}"
                );
                Ok(None)
            }
        }
    }

    /// Random files of documents (comments, every scalar style with and without indentation
    /// indicators and chomping, content that starts with `|` or `>`, anchors and aliases, flow
    /// and block collections, several documents, CRLF) and random edits, each edited again
    /// once made (what gitdrift writes is edited by its next run): every edit made reads back,
    /// in the whole file, exactly as the new value with everything else as it was; it touches
    /// only the lines of its node; comments stay; a block stays a block. An edit may be refused
    /// only on the way through an anchor or alias, in a flow collection, or where a whole line
    /// cannot be removed alone; a scalar replaced by a scalar, and an entry added to a block
    /// collection, never are.
    #[test]
    fn random_edits_of_random_files_read_back_and_touch_only_their_lines() {
        use proptest::prelude::*;
        let config = proptest::test_runner::Config {
            cases: 2000,
            failure_persistence: None,
            ..Default::default()
        };
        proptest!(config, |(seed in 1u64.., crlf in any::<bool>())| {
            let mut d = Draw::new(seed);
            let mut text = file(&mut d);
            if crlf {
                text = text.replace('\n', "\r\n");
            }
            let docs = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            let maps: Vec<&Node> = docs.iter().filter(|n| matches!(n.kind, Kind::Map(..))).collect();
            prop_assume!(!maps.is_empty());
            let map = d.below(maps.len());
            let mut all = Vec::new();
            nodes(maps[map], Vec::new(), false, &mut all);
            let (path, _, node) = all[d.below(all.len())].clone();
            // Replace it, add beside it, or remove it.
            let (path, value, op) = match (d.below(3), &node.kind) {
                (1, Kind::Map(..)) => {
                    let mut path = path.clone();
                    path.push("added".into());
                    (path, Some(new_value(&mut d)), "add")
                }
                (1, Kind::Seq(..)) => {
                    let mut path = path.clone();
                    path.push("-".into());
                    (path, Some(new_value(&mut d)), "append")
                }
                (2, _) if !path.is_empty() => (path.clone(), None, "remove"),
                _ if path.is_empty() => return Ok(()),
                _ => (path.clone(), Some(new_value(&mut d)), "replace"),
            };
            let edited = edit_checked(&text, map, &path, value.as_ref(), op)?;
            // What was written is edited again.
            if let (Some(edited), "replace") = (edited, op) {
                edit_checked(&edited, map, &path, Some(&new_value(&mut d)), "replace")?;
            }
        });
        // Most edits are made: the property is not met by refusing.
        let (made, tried) = (
            MADE.load(std::sync::atomic::Ordering::Relaxed),
            TRIED.load(std::sync::atomic::Ordering::Relaxed),
        );
        assert!(made * 3 > tried * 2, "{made} of {tried} edits made");
    }

    static TRIED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
}
