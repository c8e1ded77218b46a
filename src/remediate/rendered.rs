//! Rendered sources: a live change to an object a Kustomize overlay or a Helm chart renders is
//! written where the source's authors would write it (the overlay, [`super::overlay`]; the
//! values, [`super::values`]), never into the rendered output. Each edit is checked by rendering
//! the source again from the scanned commit with the edit written over it: the adopted field
//! must render as live has it and nothing else in the render may change. A field no edit passes
//! that check for is described instead, with why.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use super::planning::{Adoption, pointer, set_pointer, tree_at, value_of};
use super::{FieldChange, FileChange, Plan, Suggestion, describe, yaml_edit};
use crate::config::{Config, Render, Source};
use crate::desired::git::TreeFile;
use crate::desired::render::render_values;
use crate::judge::ResourceReport;
use crate::model::pointer::parse as parse_pointer;

/// Plans the adopted fields of the resources one kustomization or chart of a source renders
/// (`path`: its folder in the repository), adding file changes and suggestions to `out`.
pub(super) fn plan(
    config: &Config,
    commit: &str,
    cache_dir: &Path,
    (source, path): (&Source, &str),
    resources: Vec<Adoption<'_>>,
    out: &mut Plan,
) {
    let tool = match source.render {
        Render::Kustomize(_) => "kustomize",
        Render::Helm(_) => "helm",
        Render::Plain => "",
    };
    let describe_all = |reason: &str, out: &mut Plan| {
        for (r, fields) in &resources {
            out.suggestions
                .push(suggestion(source, r, reason.to_string(), fields.clone()));
        }
    };
    let files = match tree_at(
        &source.repo,
        cache_dir,
        commit,
        config.limits.max_file_bytes,
    ) {
        Ok(files) => files,
        Err(err) => {
            describe_all(
                &format!("cannot read the source at the scanned commit: {err}"),
                out,
            );
            return;
        }
    };
    let before = match render_values(source, path, &files, &config.limits) {
        Ok(objects) => objects,
        Err(err) => {
            describe_all(&format!("cannot render {path} again: {err}"), out);
            return;
        }
    };
    let mut bench = Workbench {
        config,
        source,
        path,
        current: before,
        files,
        edited: BTreeMap::new(),
        created: BTreeSet::new(),
        written: BTreeMap::new(),
    };
    let where_ = match tool {
        "kustomize" => format!("the overlay {path}"),
        _ => format!("the values of the chart {path}"),
    };
    for (r, fields) in resources {
        let Some(at) = bench.current.iter().position(|o| renders(o, r)) else {
            out.suggestions.push(suggestion(
                source,
                r,
                format!("rendered by {tool} from {path}, whose render does not hold it"),
                fields,
            ));
            continue;
        };
        for f in fields {
            if f.path.is_empty() {
                out.suggestions.push(suggestion(
                    source,
                    r,
                    format!("rendered by {tool} from {path}: remove it from the {} there, not from the output", if tool == "helm" { "chart's templates or values" } else { "overlay or its bases" }),
                    vec![f],
                ));
                continue;
            }
            let attempts = match tool {
                "kustomize" => super::overlay::attempts(&bench, r, at, &f),
                "helm" => super::values::attempts(&bench, r, at, &f),
                _ => Vec::new(),
            };
            match bench.settle(at, &f, attempts) {
                Ok((file, note)) => bench.written.entry(file).or_default().push(FieldChange {
                    note: Some(note),
                    ..f
                }),
                Err(reason) => out.suggestions.push(suggestion(
                    source,
                    r,
                    format!("editing {} in {where_}: {reason}", f.path),
                    vec![f],
                )),
            }
        }
    }
    for (file, after) in &bench.edited {
        out.changes.push(FileChange {
            source: source.name.clone(),
            target: source.target.clone(),
            commit: commit.to_string(),
            file: file.clone(),
            before: bench.committed(file).unwrap_or_default(),
            after: after.clone(),
            fields: bench.written.remove(file).unwrap_or_default(),
            new_file: bench.created.contains(file),
        });
    }
}

/// A suggestion for fields of a rendered resource.
fn suggestion(
    source: &Source,
    r: &ResourceReport,
    reason: String,
    fields: Vec<FieldChange>,
) -> Suggestion {
    Suggestion {
        resource: describe(r),
        source: source.name.clone(),
        file: r.source.as_ref().map_or_else(String::new, |s| s.place()),
        // Tools' and git's messages may quote what they read: scrubbed as every error is.
        reason: crate::model::redact::scrub(&reason),
        fields,
    }
}

/// `name` (which may hold `./` and `../`, as kustomizations write paths) relative to `dir`, as a
/// repository path: `overlays/prod` + `../base/p.yaml` = `overlays/base/p.yaml`. A path that
/// would leave the repository is kept as written (it names no file there).
pub(super) fn join(dir: &str, name: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in dir.split('/').chain(name.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return format!("{dir}/{name}");
                }
            }
            part => parts.push(part),
        }
    }
    parts.join("/")
}

/// Whether a rendered object is the resource reported.
fn renders(object: &Value, r: &ResourceReport) -> bool {
    let field = |p: &str| object.pointer(p).and_then(Value::as_str);
    field("/kind") == Some(r.kind.as_str())
        && field("/apiVersion") == Some(r.api_version.as_str())
        && field("/metadata/name") == Some(r.name.as_str())
        && match field("/metadata/namespace") {
            Some(ns) => Some(ns) == r.namespace.as_deref(),
            None => true,
        }
}

/// One kustomization's or chart's plan in the making: the tree at the scanned commit, the
/// files edited so far, and the render they make.
pub(super) struct Workbench<'a> {
    /// The configuration (its limits bound the renders).
    pub config: &'a Config,
    /// The source rendered.
    pub source: &'a Source,
    /// The kustomization's or chart's folder.
    pub path: &'a str,
    /// The render as the edits accepted so far make it.
    pub current: Vec<Value>,
    /// The tree at the scanned commit.
    pub files: Vec<TreeFile>,
    /// Files edited or created so far, whole.
    pub edited: BTreeMap<String, String>,
    /// Those of them that are new.
    pub created: BTreeSet<String>,
    /// The fields written, by the file that holds their value.
    written: BTreeMap<String, Vec<FieldChange>>,
}

/// One way of writing a field: the files it changes, whole, the file that holds the value, and
/// what a reviewer is told of it.
pub(super) struct Attempt {
    /// Each file it writes, whole.
    pub files: BTreeMap<String, String>,
    /// The file that holds the field's value.
    pub holder: String,
    /// Where the value went, for the plan and the pull request.
    pub note: String,
}

impl Workbench<'_> {
    /// A file's text as committed.
    fn committed(&self, file: &str) -> Option<String> {
        self.files
            .iter()
            .find(|f| f.path == file)
            .map(|f| String::from_utf8_lossy(&f.bytes).into_owned())
    }

    /// A file's text as edited so far (or as committed; `None` when it does not exist).
    pub fn text(&self, file: &str) -> Option<String> {
        self.edited
            .get(file)
            .cloned()
            .or_else(|| self.committed(file))
    }

    /// Keeps the first attempt whose edits render the field of the `at`th object as live has it
    /// and change nothing else; returns the file that holds the value and where it went, or
    /// why none did.
    fn settle(
        &mut self,
        at: usize,
        f: &FieldChange,
        attempts: Vec<Result<Vec<Attempt>, String>>,
    ) -> Result<(String, String), String> {
        let mut expected = self.current[at].clone();
        model(&mut expected, f)?;
        let mut failure = String::from("no place to write it found");
        for attempt in attempts.into_iter().flat_map(|a| match a {
            Ok(attempts) => attempts.into_iter().map(Ok).collect(),
            Err(err) => vec![Err(err)],
        }) {
            let attempt = match attempt {
                Ok(attempt) => attempt,
                Err(err) => {
                    failure = err;
                    continue;
                }
            };
            match self.check(&attempt.files, at, &expected) {
                Ok(()) => {
                    for (file, text) in attempt.files {
                        if self.text(&file).is_none() {
                            self.created.insert(file.clone());
                        }
                        self.edited.insert(file, text);
                    }
                    self.current[at] = expected;
                    return Ok((attempt.holder, attempt.note));
                }
                Err(err) => failure = format!("{} ({err})", attempt.note),
            }
        }
        Err(failure)
    }

    /// Renders with `files` written over the edits so far: the `at`th object must render as
    /// `expected`, every other as it does now.
    fn check(
        &self,
        files: &BTreeMap<String, String>,
        at: usize,
        expected: &Value,
    ) -> Result<(), String> {
        let mut written: BTreeMap<&str, &str> = BTreeMap::new();
        for (file, text) in self.edited.iter().chain(files) {
            written.insert(file, text);
        }
        let mut tree: Vec<TreeFile> = self
            .files
            .iter()
            .filter(|f| !written.contains_key(f.path.as_str()))
            .map(|f| TreeFile {
                path: f.path.clone(),
                bytes: f.bytes.clone(),
            })
            .collect();
        tree.extend(written.into_iter().map(|(file, text)| TreeFile {
            path: file.to_string(),
            bytes: text.as_bytes().to_vec(),
        }));
        let after = render_values(self.source, self.path, &tree, &self.config.limits)
            .map_err(|e| format!("the edit does not render: {e}"))?;
        if after.len() != self.current.len() {
            return Err("the edit renders another set of objects".into());
        }
        for (i, (got, now)) in after.iter().zip(&self.current).enumerate() {
            if i == at && got != expected {
                return Err("the edit does not render the live value".into());
            }
            if i != at && got != now {
                return Err("the edit changes another object of the render".into());
            }
        }
        Ok(())
    }
}

/// The first document of a YAML text, as a value.
pub(super) fn first_document(text: &str) -> Result<Value, String> {
    let docs = yaml_edit::parse(text).map_err(|e| format!("does not parse: {e}"))?;
    let node = docs.first().ok_or("holds no document")?;
    value_of(text, node)
}

/// A text's first document set at `path` to `value` (`None`: removed), format-preserving.
pub(super) fn set_in(text: &str, path: &[String], value: Option<&Value>) -> Result<String, String> {
    let docs = yaml_edit::parse(text).map_err(|e| format!("does not parse: {e}"))?;
    let node = docs.first().ok_or("holds no document")?;
    let splices = yaml_edit::set(text, node, path, value)?;
    yaml_edit::apply(text, &splices)
}

/// The rendered object as it should render once the field is adopted.
pub(super) fn model(object: &mut Value, f: &FieldChange) -> Result<(), String> {
    // Positions in git's lists (the live object's may differ: an element injected live).
    let git_path =
        parse_pointer(f.git_path.as_deref().unwrap_or(&f.path)).map_err(|e| e.to_string())?;
    let path = parse_pointer(&f.path).map_err(|e| e.to_string())?;
    match (
        git_path.last().map(String::as_str),
        path.last().map(String::as_str),
    ) {
        // An element only the live list has: at the end of git's list.
        (Some("-"), _) if !f.live.is_null() => {
            let parent = &git_path[..git_path.len() - 1];
            let mut list = pointer(object, parent)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            list.push(f.live.clone());
            set_pointer(object, parent, Some(Value::Array(list)));
        }
        // A declared element the live list lacks: gone from git's list.
        (_, Some("-")) if f.live.is_null() => {
            let parent = &git_path[..git_path.len() - 1];
            let mut list = pointer(object, parent)
                .and_then(Value::as_array)
                .cloned()
                .ok_or("the declared list is not in the render")?;
            let at = list
                .iter()
                .position(|i| i == &f.git)
                .ok_or("the declared element is not in the render")?;
            list.remove(at);
            set_pointer(object, parent, Some(Value::Array(list)));
        }
        _ => {
            if !f.git.is_null() && pointer(object, &git_path) != Some(&f.git) {
                return Err("the render no longer holds the scanned value".into());
            }
            set_pointer(
                object,
                &git_path,
                (!f.live.is_null()).then(|| f.live.clone()),
            );
        }
    }
    Ok(())
}
