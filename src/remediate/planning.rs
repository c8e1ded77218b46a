//! The plan: for each drift the configuration adopts, the edit to the git file that declares
//! it, made without changing anything else in the file and checked by reading the result back
//! (rendered sources go to [`super::rendered`]); where an edit is not right (Terraform state,
//! secret values, a file changed since the scan), a suggestion that says why.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{FieldChange, FileChange, Plan, Suggestion, describe, key_of, yaml_edit};
use crate::config::{Config, RepoLocation};
use crate::diff::Status;
use crate::judge::ResourceReport;
use crate::model::pointer::parse as parse_pointer;
use crate::report::ScanReport;

/// Reads a file of a source's repository at a commit (from the repository itself, or the cached
/// clone of a remote one).
pub fn read_at(
    repo: &RepoLocation,
    cache_dir: &Path,
    commit: &str,
    file: &str,
) -> Result<String, String> {
    let path = repo_path(repo, cache_dir)?;
    let repo = gix::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let id = gix::ObjectId::from_hex(commit.as_bytes()).map_err(|e| e.to_string())?;
    let commit = repo.find_commit(id).map_err(|e| e.to_string())?;
    let tree = commit.tree().map_err(|e| e.to_string())?;
    let entry = tree
        .lookup_entry_by_path(file)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{file} is not in commit {}", id.to_hex_with_len(12)))?;
    let object = entry.object().map_err(|e| e.to_string())?;
    String::from_utf8(object.data.clone()).map_err(|_| format!("{file} is not UTF-8 text"))
}

/// Where a source's repository is on disk.
pub fn repo_path(repo: &RepoLocation, cache_dir: &Path) -> Result<PathBuf, String> {
    match repo {
        RepoLocation::Local(path) => Ok(path.clone()),
        RepoLocation::Remote(url) => Ok(crate::desired::git::cached_clone(cache_dir, url)),
        RepoLocation::StateFile(path) => Err(format!(
            "{} is a Terraform state file, not a repository",
            path.display()
        )),
    }
}

/// A resource and the fields of it git adopts.
pub(super) type Adoption<'r> = (&'r ResourceReport, Vec<FieldChange>);

/// Every file of a repository at a commit (blobs within `max_bytes`): the tree a render of an
/// edited overlay or chart runs on.
pub(super) fn tree_at(
    repo: &RepoLocation,
    cache_dir: &Path,
    commit: &str,
    max_bytes: u64,
) -> Result<Vec<crate::desired::git::TreeFile>, String> {
    let path = repo_path(repo, cache_dir)?;
    let repo = gix::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let id = gix::ObjectId::from_hex(commit.as_bytes()).map_err(|e| e.to_string())?;
    let tree = repo
        .find_commit(id)
        .map_err(|e| e.to_string())?
        .tree()
        .map_err(|e| e.to_string())?;
    let entries = tree
        .traverse()
        .breadthfirst
        .files()
        .map_err(|e| e.to_string())?;
    let mut files = Vec::new();
    for entry in entries.into_iter().filter(|e| e.mode.is_blob()) {
        let header = repo.find_header(entry.oid).map_err(|e| e.to_string())?;
        if header.size() > max_bytes {
            continue;
        }
        let mut blob = repo.find_blob(entry.oid).map_err(|e| e.to_string())?;
        files.push(crate::desired::git::TreeFile {
            path: entry.filepath.to_string(),
            bytes: blob.take_data(),
        });
    }
    Ok(files)
}

/// Computes the plan for a report under the configuration's `remediation` settings.
pub fn plan(config: &Config, report: &ScanReport, cache_dir: &Path) -> Plan {
    let settings = &config.remediation;
    let mut out = Plan::default();
    // (source, file) → the resources and fields to change there.
    let mut per_file: BTreeMap<(String, String), Vec<Adoption<'_>>> = BTreeMap::new();
    // (source, overlay or chart folder) → the same, for objects Kustomize or Helm renders.
    let mut per_overlay: BTreeMap<(String, String), Vec<Adoption<'_>>> = BTreeMap::new();
    for r in report.resources.iter() {
        let Some(source) = &r.source else {
            continue;
        };
        let key = key_of(r);
        let rules: Vec<_> = settings
            .adopt
            .iter()
            .filter(|rule| rule.selector.matches(&r.target, &key))
            .collect();
        let fields: Vec<FieldChange> = match r.status {
            Status::Drifted if !rules.is_empty() => r
                .drifts
                .iter()
                .filter(|d| {
                    let path = parse_pointer(&d.path).unwrap_or_default();
                    rules
                        .iter()
                        .any(|rule| rule.covers(Some(&source.name), &path))
                })
                .map(|d| FieldChange {
                    resource: describe(r),
                    path: d.path.clone(),
                    git_path: d.git_path.clone(),
                    git: d.desired.clone(),
                    live: d.live.clone(),
                    changed_by: d.changed_by.clone(),
                    changed_at: d.changed_at.clone(),
                    line: d.line,
                    note: None,
                })
                .collect(),
            Status::Missing
                if settings.delete_missing
                    && rules.iter().any(|rule| {
                        rule.paths.is_empty() && rule.covers(Some(&source.name), &[])
                    }) =>
            {
                vec![FieldChange {
                    resource: describe(r),
                    path: String::new(),
                    git_path: None,
                    git: Value::String("(the whole declaration)".into()),
                    live: Value::Null,
                    changed_by: None,
                    changed_at: None,
                    line: None,
                    note: None,
                }]
            }
            _ => Vec::new(),
        };
        if fields.is_empty() {
            continue;
        }
        let suggest = |reason: String| Suggestion {
            resource: describe(r),
            source: source.name.clone(),
            file: source.place(),
            reason,
            fields: fields.clone(),
        };
        let secret_values = key.group.is_empty()
            && key.kind == "Secret"
            && fields.iter().any(|f| {
                f.path.starts_with("/data")
                    || f.path.starts_with("/stringData")
                    || f.path.is_empty()
            });
        let stand_in = fields.iter().any(|f| {
            let text = f.live.to_string();
            text.contains("<redacted>") || crate::digest::is_marker(f.live.as_str().unwrap_or(""))
        });
        if secret_values || stand_in {
            out.suggestions.push(suggest(
                "secret values are never written into git by gitdrift: change them where they are kept".into(),
            ));
            continue;
        }
        if let Some(rendered) = &source.rendered {
            per_overlay
                .entry((source.name.clone(), rendered.path.clone()))
                .or_default()
                .push((r, fields));
            continue;
        }
        if source.file.ends_with(".tfstate") {
            out.suggestions.push(suggest(
                "declared by Terraform state, which gitdrift never edits: change the HCL and apply"
                    .into(),
            ));
            continue;
        }
        per_file
            .entry((source.name.clone(), source.file.clone()))
            .or_default()
            .push((r, fields));
    }
    for ((source_name, file), resources) in per_file {
        let meta = report.scan.sources.iter().find(|s| s.name == source_name);
        let config_source = config.sources.iter().find(|s| s.name == source_name);
        let (Some(meta), Some(config_source)) = (meta, config_source) else {
            continue;
        };
        let fail_all = |reason: String, out: &mut Plan| {
            for (r, fields) in &resources {
                out.suggestions.push(Suggestion {
                    resource: describe(r),
                    source: source_name.clone(),
                    file: file.clone(),
                    reason: reason.clone(),
                    fields: fields.clone(),
                });
            }
        };
        let Some(commit) = meta.commit.clone() else {
            fail_all("the source was not read".into(), &mut out);
            continue;
        };
        let before = match read_at(&config_source.repo, cache_dir, &commit, &file) {
            Ok(text) => text,
            Err(err) => {
                fail_all(format!("cannot read the file: {err}"), &mut out);
                continue;
            }
        };
        let mut accepted: Vec<(Adoption<'_>, Vec<yaml_edit::Splice>)> = Vec::new();
        for (r, fields) in &resources {
            match edit_resource(&before, r, fields) {
                Ok(edited) => {
                    // Each field the edit could not make is described on its own.
                    for (field, reason) in edited.refused {
                        out.suggestions.push(Suggestion {
                            resource: describe(r),
                            source: source_name.clone(),
                            file: file.clone(),
                            reason,
                            fields: vec![field],
                        });
                    }
                    if !edited.accepted.is_empty() {
                        accepted.push(((r, edited.accepted), edited.splices));
                    }
                }
                Err(reason) => out.suggestions.push(Suggestion {
                    resource: describe(r),
                    source: source_name.clone(),
                    file: file.clone(),
                    reason,
                    fields: fields.clone(),
                }),
            }
        }
        if accepted.is_empty() {
            continue;
        }
        let splices: Vec<yaml_edit::Splice> =
            accepted.iter().flat_map(|(_, s)| s.clone()).collect();
        let after = match yaml_edit::apply(&before, &splices) {
            Ok(after) => after,
            Err(reason) => {
                for ((r, fields), _) in accepted {
                    out.suggestions.push(Suggestion {
                        resource: describe(r),
                        source: source_name.clone(),
                        file: file.clone(),
                        reason: reason.clone(),
                        fields,
                    });
                }
                continue;
            }
        };
        out.changes.push(FileChange {
            source: source_name.clone(),
            target: config_source.target.clone(),
            commit,
            file: file.clone(),
            before,
            after,
            fields: accepted.into_iter().flat_map(|((_, f), _)| f).collect(),
            new_file: false,
        });
    }
    for ((source_name, overlay), resources) in per_overlay {
        let meta = report.scan.sources.iter().find(|s| s.name == source_name);
        let config_source = config.sources.iter().find(|s| s.name == source_name);
        let (Some(commit), Some(config_source)) =
            (meta.and_then(|m| m.commit.clone()), config_source)
        else {
            for (r, fields) in resources {
                out.suggestions.push(Suggestion {
                    resource: describe(r),
                    source: source_name.clone(),
                    file: overlay.clone(),
                    reason: "the source was not read".into(),
                    fields,
                });
            }
            continue;
        };
        super::rendered::plan(
            config,
            &commit,
            cache_dir,
            (config_source, &overlay),
            resources,
            &mut out,
        );
    }
    out
}

/// What editing one declaration made: the splices of the fields it edits, and the fields it
/// could not edit, each with why.
pub(super) struct Edited {
    pub splices: Vec<yaml_edit::Splice>,
    pub accepted: Vec<FieldChange>,
    pub refused: Vec<(FieldChange, String)>,
}

/// The splices that make git's declaration of `r` take the live values of `fields`, each field
/// planned and checked on its own: git must still hold the scanned value, and the file edited
/// with it (and the fields accepted before it) must parse to the live values. A string that
/// does not read back in its own style is written double-quoted; a field that still cannot be
/// edited is refused with the reason, naming it, and the others are edited. `Err` when the
/// declaration itself cannot be edited (not found, not this resource).
pub(super) fn edit_resource(
    text: &str,
    r: &ResourceReport,
    fields: &[FieldChange],
) -> Result<Edited, String> {
    let line = r
        .source
        .as_ref()
        .and_then(|s| s.line)
        .ok_or("the declaration's line is not known")? as usize;
    let docs = yaml_edit::parse(text).map_err(|e| format!("the file does not parse: {e}"))?;
    let object = yaml_edit::object_at(&docs, line).ok_or("no object starts on that line")?;
    let current = value_of(text, object)?;
    // The object found must be the resource meant.
    let name_matches = current
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .is_some_and(|n| n == r.name)
        || r.api_version == crate::model::aws::API_VERSION;
    let kind_matches = current.get("kind").and_then(Value::as_str) == Some(r.kind.as_str())
        || r.api_version == crate::model::aws::API_VERSION;
    let namespace_matches = match current
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
    {
        Some(ns) => Some(ns) == r.namespace.as_deref(),
        None => true,
    };
    if !(name_matches && kind_matches && namespace_matches) {
        return Err(
            "the object on the declaration's line is not this resource (the file changed?)".into(),
        );
    }
    // gitdrift's AWS declarations: drift paths are inside `spec.properties`.
    let prefix: Vec<String> = if r.api_version == crate::model::aws::API_VERSION {
        vec!["spec".into(), "properties".into()]
    } else {
        Vec::new()
    };
    // A whole declaration deleted: every other document must read back as it was.
    if fields.len() == 1 && fields[0].path.is_empty() {
        let splices = delete_document(text, &docs, object)?;
        let edited = yaml_edit::apply(text, &splices)?;
        let after =
            yaml_edit::parse(&edited).map_err(|e| format!("the edit does not parse: {e}"))?;
        let before: Vec<Value> = docs
            .iter()
            .filter(|d| d.span != object.span)
            .map(|d| value_of(text, d))
            .collect::<Result<_, _>>()?;
        let after: Vec<Value> = after
            .iter()
            .map(|d| value_of(&edited, d))
            .collect::<Result<_, _>>()?;
        if before != after {
            return Err("deleting the document would change the others".into());
        }
        return Ok(Edited {
            splices,
            accepted: fields.to_vec(),
            refused: Vec::new(),
        });
    }
    let mut edited = Edited {
        splices: Vec::new(),
        accepted: Vec::new(),
        refused: Vec::new(),
    };
    let mut expected = current.clone();
    let whole = documents(text, "git's file");
    for unit in units(&current, &prefix, fields) {
        let planned = (|| {
            let (path, live, model_path) = match &unit {
                Unit::Field(f) => field_path(&current, &expected, &prefix, f)?,
                Unit::Parent(path, value, _) => (path.clone(), Some(value), path.clone()),
            };
            let mut wanted = expected.clone();
            set_pointer(&mut wanted, &model_path, live.cloned());
            // In the value's own style first, double-quoted where that does not read back.
            let mut failure = String::new();
            for quoted in [false, true] {
                let (splices, note) = match yaml_edit::set_noting(text, object, &path, live, quoted)
                {
                    Ok(planned) => planned,
                    Err(err) => {
                        failure = err;
                        continue;
                    }
                };
                let mut all = edited.splices.clone();
                all.extend(splices.iter().cloned());
                match reads_back((text, &whole), &all, line, &wanted) {
                    Ok(()) => {
                        let note = match quoted {
                            false => note,
                            true => Some(format!(
                                "written double-quoted: in its own style, {failure}"
                            )),
                        };
                        return Ok((splices, wanted, note));
                    }
                    Err(err) => failure = err,
                }
                if !live.is_some_and(Value::is_string) {
                    break;
                }
            }
            Err(failure)
        })();
        let fields = match unit {
            Unit::Field(f) => vec![f],
            Unit::Parent(_, _, fields) => fields,
        };
        match planned {
            Ok((splices, wanted, note)) => {
                edited.splices.extend(splices);
                for f in fields {
                    edited.accepted.push(FieldChange {
                        note: note.clone(),
                        ..f.clone()
                    });
                }
                expected = wanted;
            }
            Err(reason) => {
                for f in fields {
                    let reason = format!("editing {}: {reason}", f.path);
                    edited.refused.push((f.clone(), reason));
                }
            }
        }
    }
    Ok(edited)
}

/// Every document of a file, read as a reader reads the whole file (`which` names it in the
/// error).
fn documents(text: &str, which: &str) -> Result<Vec<Value>, String> {
    serde_saphyr::from_str_multiple_with_options::<Value, Vec<Value>>(
        text,
        crate::manifest::yaml_options(&crate::config::Limits::default()),
    )
    .map_err(|e| format!("{which} does not parse as a whole: {e}"))
}

/// What one edit of a declaration writes: a field, or a parent git lacks written whole for the
/// fields under it (each alone would add the parent, and the second would add it again).
enum Unit<'f> {
    Field(&'f FieldChange),
    /// The parent's path (after the declaration's prefix), its value, the fields it holds.
    Parent(Vec<String>, Value, Vec<&'f FieldChange>),
}

/// The fields of a resource as edits: fields set under a mapping git does not have, through
/// mappings only, are grouped under the first missing one.
fn units<'f>(current: &Value, prefix: &[String], fields: &'f [FieldChange]) -> Vec<Unit<'f>> {
    let mut units: Vec<Unit<'f>> = Vec::new();
    let mut parents: std::collections::BTreeMap<Vec<String>, usize> = Default::default();
    for f in fields {
        let mut path = prefix.to_vec();
        let Ok(rest) = parse_pointer(f.git_path.as_deref().unwrap_or(&f.path)) else {
            units.push(Unit::Field(f));
            continue;
        };
        path.extend(rest);
        // The first segment git lacks, under a mapping git has, with mappings only below it.
        let missing = (1..path.len()).find(|&n| {
            pointer(current, &path[..n]).is_none()
                && pointer(current, &path[..n - 1]).is_some_and(Value::is_object)
        });
        let Some(n) = missing.filter(|&n| {
            f.git.is_null()
                && !f.live.is_null()
                && path[n..]
                    .iter()
                    .all(|s| s != "-" && s.parse::<usize>().is_err())
        }) else {
            units.push(Unit::Field(f));
            continue;
        };
        let parent = path[..n].to_vec();
        match parents.get(&parent) {
            Some(&at) => {
                if let Unit::Parent(_, merged, grouped) = &mut units[at] {
                    set_pointer(merged, &path[n..], Some(f.live.clone()));
                    grouped.push(f);
                }
            }
            None => {
                let mut value = Value::Object(Default::default());
                set_pointer(&mut value, &path[n..], Some(f.live.clone()));
                parents.insert(parent.clone(), units.len());
                units.push(Unit::Parent(parent, value, vec![f]));
            }
        }
    }
    // A parent that holds one field is that field's own edit.
    units
        .into_iter()
        .map(|u| match u {
            Unit::Parent(_, _, fields) if fields.len() == 1 => Unit::Field(fields[0]),
            other => other,
        })
        .collect()
}

/// A field's path in git's text, its live value, its path in the declaration as edited so far.
type FieldPath<'f> = (Vec<String>, Option<&'f Value>, Vec<String>);

/// Where a field is edited in git's text, the live value it takes there (`None`: removed), and
/// where it is in the declaration as edited so far (`expected`: the elements removed before it
/// are gone). `Err` when git no longer holds the scanned value.
fn field_path<'f>(
    current: &Value,
    expected: &Value,
    prefix: &[String],
    f: &'f FieldChange,
) -> Result<FieldPath<'f>, String> {
    let mut path = prefix.to_vec();
    let pointer_text = f.git_path.as_deref().unwrap_or(&f.path);
    path.extend(parse_pointer(pointer_text).map_err(|e| e.to_string())?);
    // A declared list element the live list lacks: remove git's element equal to it.
    if path.last().map(String::as_str) == Some("-") && f.live.is_null() {
        let parent = pointer(current, &path[..path.len() - 1]);
        let index = parent
            .and_then(Value::as_array)
            .and_then(|items| items.iter().position(|i| i == &f.git))
            .ok_or("the declared element is no longer in git")?;
        path.pop();
        path.push(index.to_string());
    } else if !f.git.is_null() && pointer(current, &path) != Some(&f.git) {
        return Err(format!(
            "git no longer holds the scanned value at {} (changed since the scan?)",
            f.path
        ));
    }
    let live = (!f.live.is_null()).then_some(&f.live);
    // The text is edited where git's file has the element; what it should read back as has
    // lost the elements removed before this one.
    let mut model_path = path.clone();
    if live.is_none() && path.last().is_some_and(|s| s.parse::<usize>().is_ok()) {
        let parent = &path[..path.len() - 1];
        if let Some(at) = pointer(expected, parent)
            .and_then(Value::as_array)
            .and_then(|items| items.iter().position(|i| i == &f.git))
        {
            model_path.pop();
            model_path.push(at.to_string());
        }
    }
    Ok((path, live, model_path))
}

/// Whether `text` with `splices` applied parses, no document of it but one reads otherwise than
/// `before` (git's file read whole, once per declaration), and the object on `line` reads back
/// as `expected`: the reason otherwise, as an error of the edit (git's file itself parsed).
fn reads_back(
    (text, before): (&str, &Result<Vec<Value>, String>),
    splices: &[yaml_edit::Splice],
    line: usize,
    expected: &Value,
) -> Result<(), String> {
    let edited = yaml_edit::apply(text, splices)?;
    let before = before.as_ref().map_err(Clone::clone)?;
    let after = documents(&edited, "the edited file")?;
    if before.len() != after.len() || before.iter().zip(&after).filter(|(a, b)| a != b).count() > 1
    {
        return Err("the edit would change another document".into());
    }
    let docs =
        yaml_edit::parse(&edited).map_err(|e| format!("the edited file does not parse: {e}"))?;
    let object = yaml_edit::object_at(&docs, line).ok_or("the object moved")?;
    let got = value_of(&edited, object)
        .map_err(|e| format!("the edited declaration does not read back ({e})"))?;
    if &got != expected {
        return Err("the edit would not read back as the live value".into());
    }
    Ok(())
}

/// The JSON value of a node (its text parsed with serde-saphyr).
pub(super) fn value_of(text: &str, node: &yaml_edit::Node) -> Result<Value, String> {
    let start = text[..node.span.start].rfind('\n').map_or(0, |i| i + 1);
    let indent = node.span.start - start;
    // Through the end of its last line, and the empty lines after it: a kept block scalar
    // (`|+`) at its end holds them.
    let end = yaml_edit::content_end(text, node);
    let mut end = text[end..].find('\n').map_or(text.len(), |i| end + i + 1);
    while end < text.len() {
        let next = text[end..].find('\n').map_or(text.len(), |i| end + i + 1);
        if !text[end..next].trim().is_empty() {
            break;
        }
        end = next;
    }
    // Re-indent the node's text to column 0 so that it parses alone.
    let body: String = text[start..end]
        .split('\n')
        .map(|l| {
            let l = l.trim_end_matches('\r');
            l.get(indent.min(l.len() - l.trim_start().len())..)
                .unwrap_or("")
        })
        .collect::<Vec<_>>()
        .join("\n");
    let body = body.trim_start_matches("- ");
    serde_saphyr::from_str_with_options::<Value>(
        body,
        crate::manifest::yaml_options(&crate::config::Limits::default()),
    )
    .map_err(|e| format!("cannot read the declaration: {e}"))
}

pub(super) fn delete_document(
    text: &str,
    docs: &[yaml_edit::Node],
    object: &yaml_edit::Node,
) -> Result<Vec<yaml_edit::Splice>, String> {
    if !docs.iter().any(|d| d.span == object.span) {
        return Err("the declaration is inside a List: remove the item by hand".into());
    }
    if docs.len() == 1 {
        return Err("the declaration is the file's only document: delete the file".into());
    }
    let start = text[..object.span.start].rfind('\n').map_or(0, |i| i + 1);
    // The document's own separator goes with it (or the next one, for the first document).
    let before = &text[..start];
    let sep_start = before
        .trim_end_matches(['\n', ' '])
        .rfind('\n')
        .map_or(0, |i| i + 1);
    // Where its content ends (the parser's span of a block scalar may run on into what follows).
    let object_end = yaml_edit::content_end(text, object);
    let end = text[object_end..]
        .find('\n')
        .map_or(text.len(), |i| object_end + i + 1);
    let range = if text[sep_start..start].trim_start().starts_with("---") {
        sep_start..end
    } else {
        let next_sep = text[end..]
            .find("---")
            .filter(|i| text[end..end + i].trim().is_empty());
        match next_sep {
            Some(i) => {
                let after = text[end + i..]
                    .find('\n')
                    .map_or(text.len(), |j| end + i + j + 1);
                start..after
            }
            None => start..end,
        }
    };
    Ok(vec![yaml_edit::Splice {
        range,
        with: String::new(),
    }])
}

pub(super) fn pointer<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, seg| match v {
        Value::Object(m) => m.get(seg),
        Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

pub(super) fn set_pointer(value: &mut Value, path: &[String], new: Option<Value>) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = value;
    for seg in parents {
        if node.is_null() {
            *node = Value::Object(Default::default());
        }
        node = match node {
            Value::Object(m) => m
                .entry(seg.clone())
                .or_insert(Value::Object(Default::default())),
            Value::Array(a) => match seg.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                Some(v) => v,
                None => return,
            },
            _ => return,
        };
    }
    match (node, new) {
        (Value::Object(m), Some(v)) => {
            m.insert(last.clone(), v);
        }
        (Value::Object(m), None) => {
            m.remove(last);
        }
        (Value::Array(a), Some(v)) => {
            if last == "-" {
                a.push(v);
            } else if let Ok(i) = last.parse::<usize>() {
                if i < a.len() {
                    a[i] = v;
                } else if i == a.len() {
                    a.push(v);
                }
            }
        }
        (Value::Array(a), None) => {
            if let Ok(i) = last.parse::<usize>()
                && i < a.len()
            {
                a.remove(i);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ResourceKey, SourceRef};
    use serde_json::json;

    fn field(path: &str, live: Value) -> FieldChange {
        FieldChange {
            resource: "Deployment team/api".into(),
            path: path.into(),
            git_path: None,
            git: Value::Null,
            live,
            changed_by: None,
            changed_at: None,
            line: None,
            note: None,
        }
    }

    /// Fields under a mapping git does not have are all edited, the mapping written once, in
    /// block style; a field beside them is edited on its own.
    #[test]
    fn fields_under_one_missing_parent_are_all_edited() {
        let text = "# head\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: team\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n        - name: api\n          image: api:1\n";
        let key = ResourceKey {
            group: "apps".into(),
            kind: "Deployment".into(),
            namespace: Some("team".into()),
            name: "api".into(),
        };
        let mut report = ResourceReport::new("lab", "apps/v1", &key, Status::Drifted);
        report.source = Some(SourceRef {
            name: "team".into(),
            file: "app.yaml".into(),
            line: Some(2),
            rendered: None,
        });
        let limits = "/spec/template/spec/containers/0/resources/limits";
        let fields = [
            field("/metadata/annotations/a", json!("x")),
            field(&format!("{limits}/cpu"), json!("1")),
            field("/metadata/annotations/b", json!("yes")),
            field(&format!("{limits}/memory"), json!("1Gi")),
            field("/spec/replicas", json!(3)),
        ];
        let edited = edit_resource(text, &report, &fields).unwrap();
        assert!(edited.refused.is_empty(), "{:?}", edited.refused);
        assert_eq!(edited.accepted.len(), 5);
        let after = yaml_edit::apply(text, &edited.splices).unwrap();
        let read: Value = serde_saphyr::from_str(&after).unwrap();
        assert_eq!(
            read["metadata"]["annotations"],
            json!({"a": "x", "b": "yes"})
        );
        assert_eq!(
            read["spec"]["template"]["spec"]["containers"][0]["resources"],
            json!({"limits": {"cpu": "1", "memory": "1Gi"}})
        );
        assert_eq!(read["spec"]["replicas"], 3);
        assert!(
            after.contains("  annotations:\n    a: x\n    b: \"yes\"\n"),
            "{after}"
        );
        assert_eq!(after.matches("annotations:").count(), 1, "{after}");
    }
}
