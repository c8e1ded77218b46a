//! Kubernetes manifests from bytes: YAML multi-document streams, JSON, and `kind: List`, with the
//! line each object starts on. Shared by git sources, snapshot folders (which hold the same
//! formats: `kubectl get -o yaml|json` writes what people commit) and the Kubernetes reader.
//!
//! Parsing is defensive: duplicate keys, alias bombs, deep nesting and oversized files are errors
//! that name the file and line, and no error message quotes the document's content (a Secret's
//! value must never reach a log).

mod documents;
mod stream;

use serde_json::{Map, Value};

use crate::config::Limits;
use documents::{DocBody, line_of_offset, parse_json, parse_yaml};

use crate::model::{Body, Code, Object, Origin, Problem, Severity, names, split_api_version};
pub use documents::Strict;
pub(crate) use documents::yaml_options;
pub use stream::{NotAList, parse_json_list};

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

impl ParsedFile {
    /// Its errors and notes as problems located in `file`; the caller names the source or
    /// target they belong to.
    pub fn take_problems(&mut self, file: &str) -> Vec<Problem> {
        let errors = std::mem::take(&mut self.errors)
            .into_iter()
            .map(|p| (Severity::Error, p));
        let notes = std::mem::take(&mut self.notes)
            .into_iter()
            .map(|p| (Severity::Note, p));
        errors
            .chain(notes)
            .map(|(severity, p)| Problem::new(severity, p.code, p.message).at(file, p.line))
            .collect()
    }
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
                "file is {} bytes, over the limit of {} bytes (raise limits.max_file_size to read it)",
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

/// A value for a message: control characters escaped, at most 80 characters.
fn printable(text: &str) -> String {
    let escaped: String = text.chars().flat_map(char::escape_default).collect();
    match escaped.char_indices().nth(80) {
        Some((at, _)) => format!("{}…", &escaped[..at]),
        None => escaped,
    }
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
    // Both reach request paths: a value that could change the request is refused here.
    if let Some(ns) = namespace.as_deref().filter(|ns| !names::is_dns_label(ns)) {
        out.errors.push(FileProblem::at(
            Code::ManifestInvalidObject,
            Some(line),
            format!(
                "{kind} {}: metadata.namespace `{}` is not a namespace (lowercase letters, digits and `-`, at most 63)",
                printable(&name),
                printable(ns)
            ),
        ));
        return None;
    }
    if !names::is_path_segment(&name) {
        out.errors.push(FileProblem::at(
            Code::ManifestInvalidObject,
            Some(line),
            format!(
                "{kind}: metadata.name `{}` is not a name the API server can hold (no `/`, `%`, `?`, `#`, spaces or `..`)",
                printable(&name)
            ),
        ));
        return None;
    }
    let value = Value::Object(map);
    Some(Object {
        api_version,
        group,
        kind,
        namespace,
        name,
        owned: crate::model::has_owner(&value),
        applied: None,
        body: Body::Tree(value),
        origin: Origin {
            file: file.to_string(),
            line: Some(line),
            rendered: None,
        },
    })
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
    fn namespaces_and_names_that_would_change_a_request_path_are_errors() {
        let parsed = yaml(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: shop/services/web/proxy\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ../secrets\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fine\n  namespace: shop\n",
        );
        assert_eq!(parsed.objects.len(), 1, "the valid object is kept");
        let errors: Vec<(Option<u64>, &str)> = parsed
            .errors
            .iter()
            .map(|e| (e.line, e.message.as_str()))
            .collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[0].0, Some(1));
        assert!(
            errors[0]
                .1
                .contains("metadata.namespace `shop/services/web/proxy` is not a namespace"),
            "{errors:?}"
        );
        assert_eq!(errors[1].0, Some(7));
        assert!(
            errors[1].1.contains("metadata.name `../secrets`"),
            "{errors:?}"
        );
        assert!(
            parsed
                .errors
                .iter()
                .all(|e| e.code == Code::ManifestInvalidObject)
        );
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
