//! A YAML tree that remembers the line and column of every node, so that configuration errors
//! can point at the exact place, all of them at once.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// A YAML node with its position.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// 1-based line.
    pub line: u64,
    /// 1-based column.
    pub column: u64,
    /// The node's content.
    pub kind: NodeKind,
}

/// The content of a [`Node`].
#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    /// `~`, `null` or nothing.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order; keys are nodes too so that errors can point at them.
    Map(Vec<(Node, Node)>),
}

impl NodeKind {
    /// A word for error messages: what the user wrote.
    pub fn describe(&self) -> &'static str {
        match self {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Int(_) => "an integer",
            NodeKind::Float(_) => "a number",
            NodeKind::Str(_) => "a string",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }
}

/// The node as plain JSON (for values passed on to other tools).
pub fn to_json(node: &Node) -> serde_json::Value {
    use serde_json::Value;
    match &node.kind {
        NodeKind::Null => Value::Null,
        NodeKind::Bool(b) => Value::Bool(*b),
        NodeKind::Int(i) => Value::from(*i),
        NodeKind::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        NodeKind::Str(s) => Value::String(s.clone()),
        NodeKind::Seq(items) => Value::Array(items.iter().map(to_json).collect()),
        NodeKind::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = match &k.kind {
                        NodeKind::Str(s) => s.clone(),
                        other => to_json(&Node {
                            kind: other.clone(),
                            ..k.clone()
                        })
                        .to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
    }
}

/// Parses a YAML text into a located tree; an empty document yields a null node.
pub fn parse(text: &str) -> Result<Node, (u64, String)> {
    let options = serde_saphyr::options! {
        with_snippet: false,
        // Configurations are shallow; a deeper one is refused before its nesting can exhaust a
        // thread's stack (a reload runs on a 2 MiB worker thread).
        budget: serde_saphyr::budget! { max_nodes: 100_000, max_depth: 32 },
    };
    let docs: Vec<Spanned<Kind>> = serde_saphyr::from_multiple_with_options(text, options)
        .map_err(|err| {
            let text = err.to_string();
            let line = text
                .rsplit_once(" at line ")
                .and_then(|(_, rest)| {
                    rest.chars()
                        .take_while(char::is_ascii_digit)
                        .collect::<String>()
                        .parse()
                        .ok()
                })
                .unwrap_or(1);
            let message = text
                .rsplit_once(" at line ")
                .map_or(text.clone(), |(m, _)| m.to_string());
            (line, message)
        })?;
    let mut docs = docs.into_iter();
    let first = docs.next();
    if let Some(extra) = docs.next() {
        return Err((
            extra.referenced.line(),
            "a configuration file holds one YAML document".to_string(),
        ));
    }
    Ok(first.map_or(
        Node {
            line: 1,
            column: 1,
            kind: NodeKind::Null,
        },
        located,
    ))
}

fn located(spanned: Spanned<Kind>) -> Node {
    Node {
        line: spanned.referenced.line().max(1),
        column: spanned.referenced.column().max(1),
        kind: spanned.value.0,
    }
}

struct Kind(NodeKind);

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KindVisitor)
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Kind, E> {
        Ok(Kind(NodeKind::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Kind, E> {
        Ok(Kind(NodeKind::Int(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Kind, E> {
        Ok(Kind(
            i64::try_from(v).map_or(NodeKind::Float(v as f64), NodeKind::Int),
        ))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Kind, E> {
        Ok(Kind(NodeKind::Float(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Kind, E> {
        Ok(Kind(NodeKind::Str(v.to_string())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Kind, E> {
        Ok(Kind(NodeKind::Str(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind(NodeKind::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind(NodeKind::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Kind, D::Error> {
        Kind::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Kind, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = access.next_element::<Spanned<Kind>>()? {
            items.push(located(item));
        }
        Ok(Kind(NodeKind::Seq(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Kind, A::Error> {
        let mut entries: Vec<(Node, Node)> = Vec::new();
        while let Some(key) = access.next_key::<Spanned<Kind>>()? {
            let key = located(key);
            let value = located(access.next_value::<Spanned<Kind>>()?);
            entries.push((key, value));
        }
        Ok(Kind(NodeKind::Map(entries)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_carry_lines_for_keys_and_values() {
        let node = parse("a: 1\nb:\n  - x\n  - y: true\n").unwrap();
        let NodeKind::Map(entries) = node.kind else {
            panic!("not a map")
        };
        assert_eq!(entries[0].0.line, 1);
        assert_eq!(entries[1].0.line, 2);
        let NodeKind::Seq(items) = &entries[1].1.kind else {
            panic!("not a seq")
        };
        assert_eq!(items[0].line, 3);
        assert_eq!(items[1].line, 4);
    }

    #[test]
    fn syntax_errors_have_a_line() {
        let (line, message) = parse("a: 1\nb: [\n").unwrap_err();
        assert!(line >= 2, "{line} {message}");
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let (line, message) = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!(line, 2);
        assert!(message.contains("duplicate"), "{message}");
    }
}
#[cfg(test)]
mod depth {
    #[test]
    fn a_configuration_nested_past_the_limit_is_an_error_on_a_small_stack() {
        for n in [33usize, 64, 130, 400] {
            for flow in [true, false] {
                let text = if flow {
                    format!("{}{}", "[".repeat(n), "]".repeat(n))
                } else {
                    (0..n)
                        .map(|i| format!("{}k{i}:\n", "  ".repeat(i)))
                        .collect()
                };
                // The stack of a Tokio worker, where a reload parses the file.
                let parsed = std::thread::Builder::new()
                    .stack_size(2 << 20)
                    .spawn(move || super::parse(&text).map(|_| ()))
                    .unwrap()
                    .join()
                    .expect("no stack overflow");
                let (_, message) = parsed.expect_err("too deep");
                assert!(
                    message.contains("invalid YAML")
                        || message.contains("epth")
                        || message.contains("recursion"),
                    "{message}"
                );
            }
        }
        assert!(super::parse(&format!("{}{}", "[".repeat(20), "]".repeat(20))).is_ok());
    }
}
