//! Remediation: bring git back in line with the live state where the live state is right. From
//! a [`ScanReport`], [`plan`] computes, for the drift the configuration says to adopt, the edits
//! to the git files that declare it — format-preserving ([`yaml_edit`]), checked by parsing the
//! edited file again — and says why where it will not edit (rendered sources, Terraform state,
//! a file that changed since the scan). A plan is data: printed for review, written as a patch
//! `git apply` accepts. gitdrift never touches the environment; remediation only writes to git.

pub mod api;
pub mod gitea;
pub mod github;
pub mod gitlab;
pub mod local;
pub mod propose;
pub mod yaml_edit;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::config::{Config, RepoLocation};
use crate::diff::Status;
use crate::judge::ResourceReport;
use crate::model::ResourceKey;
use crate::model::pointer::parse as parse_pointer;
use crate::report::{ScanReport, display_value};

/// What remediation would change.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Plan {
    /// Files to change, each whole (before and after).
    pub changes: Vec<FileChange>,
    /// Changes described, not applied, and why.
    pub suggestions: Vec<Suggestion>,
}

/// One file of one source, changed.
#[derive(Clone, Debug, Serialize)]
pub struct FileChange {
    /// The source.
    pub source: String,
    /// The target it declares.
    pub target: String,
    /// The commit the file was read at (the scanned one).
    pub commit: String,
    /// Path in the repository.
    pub file: String,
    /// Its content at that commit.
    #[serde(skip)]
    pub before: String,
    /// Its content after the change.
    #[serde(skip)]
    pub after: String,
    /// The fields changed.
    pub fields: Vec<FieldChange>,
    /// The file is new (an imported resource).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub new_file: bool,
}

/// One field set to its live value.
#[derive(Clone, Debug, Serialize)]
pub struct FieldChange {
    /// The resource (`Deployment shop/web`).
    pub resource: String,
    /// JSON Pointer (into the live object).
    pub path: String,
    /// JSON Pointer into git's declaration, where it differs (list elements matched by key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_path: Option<String>,
    /// Git's value.
    pub git: Value,
    /// The live value git adopts (`null`: the field goes).
    pub live: Value,
    /// Who changed it live, where managedFields tell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_by: Option<String>,
    /// When.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<String>,
}

/// A change gitdrift describes but does not make.
#[derive(Clone, Debug, Serialize)]
pub struct Suggestion {
    /// The resource.
    pub resource: String,
    /// The source.
    pub source: String,
    /// Where it is declared.
    pub file: String,
    /// Why it is not applied.
    pub reason: String,
    /// The fields to change by hand.
    pub fields: Vec<FieldChange>,
}

fn key_of(r: &ResourceReport) -> ResourceKey {
    ResourceKey {
        group: crate::model::split_api_version(&r.api_version)
            .0
            .to_string(),
        kind: r.kind.clone(),
        namespace: r.namespace.clone(),
        name: r.name.clone(),
    }
}

/// How plans and descriptions name a resource: `Deployment shop/web`.
fn label(kind: &str, namespace: &Option<String>, name: &str) -> String {
    format!("{kind} {}", crate::report::resource_name(namespace, name))
}

fn describe(r: &ResourceReport) -> String {
    label(&r.kind, &r.namespace, &r.name)
}

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
type Adoption<'r> = (&'r ResourceReport, Vec<FieldChange>);

/// Computes the plan for a report under the configuration's `remediation` settings.
pub fn plan(config: &Config, report: &ScanReport, cache_dir: &Path) -> Plan {
    let settings = &config.remediation;
    let mut out = Plan::default();
    // (source, file) → the resources and fields to change there.
    let mut per_file: BTreeMap<(String, String), Vec<Adoption<'_>>> = BTreeMap::new();
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
            out.suggestions.push(suggest(format!(
                "rendered by {} from {}: change the templates or values there, not the output",
                rendered.tool, rendered.path
            )));
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
                Ok(splices) => accepted.push(((r, fields.clone()), splices)),
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
    out
}

/// The splices that make git's declaration of `r` take the live values of `fields`, checked:
/// git must still hold the scanned values, and the edited text must parse to the live values.
fn edit_resource(
    text: &str,
    r: &ResourceReport,
    fields: &[FieldChange],
) -> Result<Vec<yaml_edit::Splice>, String> {
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
        return Ok(splices);
    }
    let mut splices = Vec::new();
    let mut expected = current.clone();
    for f in fields {
        let mut path = prefix.clone();
        let pointer_text = f.git_path.as_deref().unwrap_or(&f.path);
        path.extend(parse_pointer(pointer_text).map_err(|e| e.to_string())?);
        // A declared list element the live list lacks: remove git's element equal to it.
        if path.last().map(String::as_str) == Some("-") && f.live.is_null() {
            let parent = pointer(&current, &path[..path.len() - 1]);
            let index = parent
                .and_then(Value::as_array)
                .and_then(|items| items.iter().position(|i| i == &f.git))
                .ok_or("the declared element is no longer in git")?;
            path.pop();
            path.push(index.to_string());
        } else if !f.git.is_null() && pointer(&current, &path) != Some(&f.git) {
            return Err(format!(
                "git no longer holds the scanned value at {} (changed since the scan?)",
                f.path
            ));
        }
        let live = (!f.live.is_null()).then_some(&f.live);
        splices.extend(yaml_edit::set(text, object, &path, live)?);
        set_pointer(&mut expected, &path, live.cloned());
    }
    // Check: the edited file parses, and the object is what the live state says.
    let edited = yaml_edit::apply(text, &splices)?;
    let docs = yaml_edit::parse(&edited).map_err(|e| format!("the edit does not parse: {e}"))?;
    let object = yaml_edit::object_at(&docs, line).ok_or("the object moved")?;
    let got = value_of(&edited, object)?;
    if got != expected {
        return Err("the edit would not read back as the live value".into());
    }
    Ok(splices)
}

/// The JSON value of a node (its text parsed with serde-saphyr).
fn value_of(text: &str, node: &yaml_edit::Node) -> Result<Value, String> {
    let start = text[..node.span.start].rfind('\n').map_or(0, |i| i + 1);
    let indent = node.span.start - start;
    // Re-indent the node's text to column 0 so that it parses alone.
    let body: String = text[start..node.span.end]
        .lines()
        .map(|l| {
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

fn delete_document(
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
    let end = text[object.span.end..]
        .find('\n')
        .map_or(text.len(), |i| object.span.end + i + 1);
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

fn pointer<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, seg| match v {
        Value::Object(m) => m.get(seg),
        Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

fn set_pointer(value: &mut Value, path: &[String], new: Option<Value>) {
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

/// The plan as text for review.
pub fn render_plan(plan: &Plan) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if plan.changes.is_empty() && plan.suggestions.is_empty() {
        out.push_str("nothing to remediate (no drift the configuration adopts)\n");
        return out;
    }
    for c in &plan.changes {
        let _ = writeln!(
            out,
            "edit {} (source {}, target {}, at {})",
            c.file,
            c.source,
            c.target,
            &c.commit[..c.commit.len().min(12)]
        );
        for f in &c.fields {
            let who = match (&f.changed_by, &f.changed_at) {
                (Some(by), Some(at)) => format!("  (set by {by} at {at})"),
                (Some(by), None) => format!("  (set by {by})"),
                _ => String::new(),
            };
            if f.path.is_empty() && c.new_file {
                let _ = writeln!(out, "  {}: import it from the live state", f.resource);
            } else if f.path.is_empty() {
                let _ = writeln!(out, "  {}: delete the declaration", f.resource);
            } else {
                let _ = writeln!(
                    out,
                    "  {} {}: {} -> {}{who}",
                    f.resource,
                    f.path,
                    display_value(&f.git),
                    display_value(&f.live)
                );
            }
        }
    }
    for s in &plan.suggestions {
        let _ = writeln!(
            out,
            "suggest {} in {} (source {}): {}",
            s.resource, s.file, s.source, s.reason
        );
        for f in &s.fields {
            let _ = writeln!(
                out,
                "  {}: {} -> {}",
                f.path,
                display_value(&f.git),
                display_value(&f.live)
            );
        }
    }
    out
}

/// The plan's edits as a unified diff (`a/` and `b/` paths from the repository root).
pub fn patch(changes: &[&FileChange]) -> String {
    let mut out = String::new();
    for c in changes {
        let diff = similar::TextDiff::from_lines(&c.before, &c.after);
        out.push_str(&format!("diff --git a/{0} b/{0}\n", c.file));
        let old = if c.new_file {
            out.push_str("new file mode 100644\n");
            "/dev/null".to_string()
        } else {
            format!("a/{}", c.file)
        };
        out.push_str(
            &diff
                .unified_diff()
                .context_radius(3)
                .header(&old, &format!("b/{}", c.file))
                .to_string(),
        );
    }
    out
}

/// Unmanaged resources the configuration imports: a key per target.
pub fn import_candidates(config: &Config, report: &ScanReport) -> Vec<(String, ResourceKey)> {
    if !config.remediation.import_unmanaged {
        return Vec::new();
    }
    report
        .resources
        .iter()
        .filter(|r| r.status == Status::Unmanaged)
        .filter(|r| {
            let key = key_of(r);
            config
                .remediation
                .adopt
                .iter()
                .any(|rule| rule.selector.matches(&r.target, &key) && rule.source.is_none())
        })
        .map(|r| (r.target.clone(), key_of(r)))
        .collect()
}

/// Reads the live objects of import candidates again from their targets (the guards count the
/// requests in `recorder`).
pub async fn read_unmanaged(
    config: &Config,
    candidates: &[(String, ResourceKey)],
    recorder: &std::sync::Arc<dyn crate::live::Recorder>,
) -> Vec<(String, ResourceKey, Value)> {
    let mut out = Vec::new();
    let targets: std::collections::BTreeSet<&String> = candidates.iter().map(|(t, _)| t).collect();
    for target_name in targets {
        let Some(target) = config.target(target_name) else {
            continue;
        };
        let keys: Vec<&ResourceKey> = candidates
            .iter()
            .filter(|(t, _)| t == target_name)
            .map(|(_, k)| k)
            .collect();
        let mut request = crate::live::LiveRequest::default();
        for k in &keys {
            request.kinds.insert(k.group_kind());
            if let Some(ns) = &k.namespace {
                request.namespaces.insert(ns.clone());
            }
        }
        let provider = crate::live::LiveProvider::for_target(target, recorder);
        let read = provider.read(target_name, &request, &config.limits).await;
        for object in read.objects {
            let key = ResourceKey {
                group: object.group.clone(),
                kind: object.kind.clone(),
                namespace: object.namespace.clone(),
                name: object.name.clone(),
            };
            if keys.contains(&&key) {
                out.push((target_name.clone(), key, object.body.value().into_owned()));
            }
        }
    }
    out
}

/// Adds the imports of unmanaged resources to a plan: each live object, cleaned of what the
/// server adds, as a new manifest in the first plain source of its target
/// (`<that source's folder>/gitdrift-imported/<kind>-<namespace>-<name>.yaml`). Secrets are never
/// imported, and neither are AWS resources (their declarations are suggested).
pub fn add_imports(
    config: &Config,
    report: &ScanReport,
    live: &[(String, ResourceKey, Value)],
    plan: &mut Plan,
    cache_dir: &Path,
) {
    for (target, key, object) in live {
        let resource = label(&key.kind, &key.namespace, &key.name);
        let source = config.sources.iter().find(|s| {
            s.target == *target
                && matches!(s.render, crate::config::Render::Plain)
                && !matches!(s.repo, RepoLocation::StateFile(_))
        });
        let suggest = |reason: &str, source: &str| Suggestion {
            resource: resource.clone(),
            source: source.to_string(),
            file: String::new(),
            reason: reason.to_string(),
            fields: Vec::new(),
        };
        let Some(source) = source else {
            plan.suggestions.push(suggest(
                "no plain source declares this target: nowhere to import it",
                "",
            ));
            continue;
        };
        if key.kind == "Secret" && key.group.is_empty() {
            plan.suggestions.push(suggest(
                "a Secret: secret values are never imported into git",
                &source.name,
            ));
            continue;
        }
        if key.group == crate::model::aws::GROUP {
            plan.suggestions.push(suggest(
                "an AWS resource: write its AWSResource declaration by hand",
                &source.name,
            ));
            continue;
        }
        let Some(commit) = report.commit_of(&source.name) else {
            continue;
        };
        let folder = source
            .paths
            .first()
            .map(|p| {
                let end = p.find(['*', '?', '[', '{']).unwrap_or(p.len());
                let dir = &p[..end];
                dir.rsplit_once('/')
                    .map(|(d, _)| format!("{d}/"))
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        let name = |s: &str| -> String {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .collect()
        };
        // `<kind>[.<group>]_<namespace>_<name>.yaml`: `_` never occurs in a Kubernetes name, so
        // no two resources share a file.
        let stem = format!(
            "{}{}_{}_{}",
            name(&key.kind),
            if key.group.is_empty() {
                String::new()
            } else {
                format!(".{}", name(&key.group))
            },
            key.namespace.as_deref().map(name).unwrap_or_default(),
            name(&key.name)
        );
        // Somewhere the source reads: under its first glob's folder, else beside a file it
        // already declares.
        let filter = crate::desired::git::FileFilter::new(&source.paths, &source.exclude).ok();
        let reads = |path: &str| filter.as_ref().is_some_and(|f| f.selects(path));
        let beside = report
            .resources
            .iter()
            .filter_map(|r| r.source.as_ref())
            .find(|s| s.name == source.name && s.rendered.is_none())
            .map(|s| {
                s.file
                    .rsplit_once('/')
                    .map(|(d, _)| format!("{d}/"))
                    .unwrap_or_default()
            });
        let Some(file) = [Some(folder), beside]
            .into_iter()
            .flatten()
            .flat_map(|dir| {
                [
                    format!("{dir}gitdrift-imported/{stem}.yaml"),
                    format!("{dir}{stem}.yaml"),
                ]
            })
            .find(|f| reads(f))
        else {
            plan.suggestions.push(suggest(
                "no file name the source reads was found for it: add the manifest by hand",
                &source.name,
            ));
            continue;
        };
        if let Ok(existing) = read_at(&source.repo, cache_dir, &commit, &file)
            && !existing.is_empty()
        {
            plan.suggestions.push(suggest(
                &format!("{file} already exists in git: import it by hand"),
                &source.name,
            ));
            continue;
        }
        let text = match serde_saphyr::to_string(&clean(object.clone())) {
            Ok(yaml) => format!("# Imported by gitdrift from the live state of {target}.\n{yaml}"),
            Err(err) => {
                plan.suggestions.push(suggest(
                    &format!("cannot write it as YAML: {err}"),
                    &source.name,
                ));
                continue;
            }
        };
        plan.changes.push(FileChange {
            source: source.name.clone(),
            target: target.clone(),
            commit,
            file,
            before: String::new(),
            after: text,
            fields: vec![FieldChange {
                resource,
                path: String::new(),
                git_path: None,
                git: Value::Null,
                live: Value::String("(the whole resource, imported)".into()),
                changed_by: None,
                changed_at: None,
            }],
            new_file: true,
        });
    }
}

/// A live object without what the API server adds: status, server metadata (the fields the
/// judgement treats as bookkeeping), finalizers, last-applied and binding annotations, allocated
/// cluster IPs, node ports and volume names.
pub fn clean(mut object: Value) -> Value {
    crate::model::drop_last_applied(&mut object);
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
        if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            for key in crate::diff::rules::BOOKKEEPING_METADATA {
                meta.remove(*key);
            }
            meta.remove("finalizers");
            if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
                annotations.retain(|k, _| {
                    k != "deployment.kubernetes.io/revision" && !k.starts_with("pv.kubernetes.io/")
                });
                if annotations.is_empty() {
                    meta.remove("annotations");
                }
            }
        }
        if let Some(spec) = map.get_mut("spec").and_then(Value::as_object_mut) {
            for key in ["clusterIP", "clusterIPs", "volumeName"] {
                spec.remove(key);
            }
            // Allocated node ports.
            if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
                for port in ports.iter_mut().filter_map(Value::as_object_mut) {
                    port.remove("nodePort");
                }
            }
        }
    }
    // `creationTimestamp: null` in pod templates (as kubectl prints them) says nothing.
    fn drop_null_timestamps(value: &mut Value) {
        match value {
            Value::Object(map) => {
                if map.get("creationTimestamp") == Some(&Value::Null) {
                    map.remove("creationTimestamp");
                }
                map.values_mut().for_each(drop_null_timestamps);
            }
            Value::Array(items) => items.iter_mut().for_each(drop_null_timestamps),
            _ => {}
        }
    }
    drop_null_timestamps(&mut object);
    object
}

/// Marks the lines of a description that name the scan: they change with every scan, the plan
/// does not.
pub const SCAN_LINE: &str = "<!-- gitdrift:scan -->";

/// Whether two descriptions say the same, apart from which scan they come from.
pub fn same_description(a: &str, b: &str) -> bool {
    let plan = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.contains(SCAN_LINE))
            .map(str::to_string)
            .collect()
    };
    plan(a) == plan(b)
}

/// The title of a remediation pull request.
pub fn pr_title(target: &str, fields: usize) -> String {
    format!(
        "gitdrift: adopt the live state of {fields} field{} on {target}",
        if fields == 1 { "" } else { "s" }
    )
}

/// The body of a remediation pull request: what drifted, field by field, who changed it and
/// when, the scan it comes from, and the compliance findings the change brings into git or
/// takes out of it.
pub fn pr_body(
    report: &ScanReport,
    source: &str,
    changes: &[&FileChange],
    suggestions: &[&Suggestion],
    scan: &propose::ScanRef,
) -> String {
    use std::fmt::Write as _;
    let cell = |v: &str| v.replace('|', "\\|").replace('\n', " ");
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<!-- gitdrift:remediation source={source} -->\nThe live state differs from git, and the configuration says the live state is right (`remediation.adopt`). This change brings git in line with it; nothing in the environment is touched.\n"
    );
    let _ = writeln!(
        out,
        "| resource | field | git | live | changed by | at |\n|---|---|---|---|---|---|"
    );
    let mut resources = std::collections::BTreeSet::new();
    for c in changes {
        for f in &c.fields {
            resources.insert(f.resource.clone());
            let path = if f.path.is_empty() {
                "(declaration deleted)".to_string()
            } else {
                format!("`{}`", f.path)
            };
            let _ = writeln!(
                out,
                "| {} | {} | `{}` | `{}` | {} | {} |",
                cell(&f.resource),
                cell(&path),
                cell(&display_value(&f.git)),
                cell(&display_value(&f.live)),
                cell(f.changed_by.as_deref().unwrap_or("")),
                cell(f.changed_at.as_deref().unwrap_or(""))
            );
        }
    }
    let files: Vec<&str> = changes.iter().map(|c| c.file.as_str()).collect();
    let commit = changes.first().map(|c| c.commit.as_str()).unwrap_or("");
    let id = scan.id.map(|id| format!(" {id}")).unwrap_or_default();
    let _ = writeln!(
        out,
        "\nFiles: {}. Scan{id} of {} at commit `{}`. {SCAN_LINE}",
        files
            .iter()
            .map(|f| format!("`{f}`"))
            .collect::<Vec<_>>()
            .join(", "),
        report.scan.started_at.format("%Y-%m-%d %H:%M UTC"),
        commit
    );
    if let Some(url) = &scan.url {
        let _ = writeln!(out, "Full report: {url} {SCAN_LINE}");
    }
    // Findings: what git would take over from the live state, and what it would lose.
    let mut introduced = std::collections::BTreeSet::new();
    let mut fixed = std::collections::BTreeSet::new();
    for resource in &resources {
        let of = |side: crate::model::Side| -> std::collections::BTreeSet<String> {
            report
                .findings
                .iter()
                .filter(|f| {
                    f.side == side
                        && label(&f.resource.kind, &f.resource.namespace, &f.resource.name)
                            == *resource
                })
                .map(|f| format!("`{}` ({}) on {resource}", f.rule, f.severity.as_str()))
                .collect()
        };
        let (git, live) = (
            of(crate::model::Side::Desired),
            of(crate::model::Side::Live),
        );
        introduced.extend(live.difference(&git).cloned());
        fixed.extend(git.difference(&live).cloned());
    }
    if !introduced.is_empty() || !fixed.is_empty() {
        let _ = writeln!(out, "\n**Compliance**");
        for f in &introduced {
            let _ = writeln!(out, "- brings into git: {f}");
        }
        for f in &fixed {
            let _ = writeln!(out, "- fixes in git: {f}");
        }
    }
    if !suggestions.is_empty() {
        let _ = writeln!(out, "\n**Not applied** (change these by hand):");
        for s in suggestions {
            let _ = writeln!(out, "- {} in `{}`: {}", s.resource, s.file, s.reason);
            for f in &s.fields {
                let _ = writeln!(
                    out,
                    "  - `{}`: `{}` → `{}`",
                    f.path,
                    display_value(&f.git),
                    display_value(&f.live)
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn terraform_state_and_rendered_output_are_suggested_never_edited() {
        let config = Config::from_str(
            "sources:\n  - name: infra\n    repo: .\n    target: prod\ntargets:\n  - name: prod\n    snapshot: ./live\nremediation:\n  adopt:\n    - target: prod\n",
            Path::new("/etc/gitdrift.yaml"),
            Path::new("/etc"),
            &crate::live::known(),
        )
        .unwrap();
        let resource = |kind: &str, source: Value| {
            json!({
                "target": "prod", "apiVersion": "aws/v1", "kind": kind, "namespace": "eu-west-1",
                "name": "x", "status": "drifted", "source": source,
                "drifts": [{"path": "/InstanceType", "desired": "t3.small", "live": "t3.large", "owners": []}]
            })
        };
        let report: ScanReport = serde_json::from_value(json!({
            "schema": crate::report::SCHEMA,
            "scan": {"started_at": "2026-01-01T01:00:00Z", "finished_at": "2026-01-01T01:00:01Z",
                     "gitdrift_version": "0.1.0", "config": "gitdrift.yaml", "sources": [], "targets": []},
            "summary": {"resources": 2, "in_sync": 0, "drifted": 2, "missing": 0, "unmanaged": 0,
                        "drifts": 2, "unreadable": 0, "errors": 0, "warnings": 0},
            "resources": [
                resource("AWS::EC2::Instance", json!({"name": "infra", "file": "tf/terraform.tfstate", "line": null})),
                resource("AWS::EC2::Volume", json!({"name": "infra", "file": "charts/x/templates/v.yaml", "line": 1,
                    "rendered": {"tool": "helm", "path": "charts/x"}})),
            ],
            "problems": [], "stale_ignore_rules": [], "unreadable": [], "coverage": [], "findings": [],
            "compliance": {"rules": [], "failing": {}, "waived": 0, "frameworks": [], "waivers": []}
        }))
        .unwrap();
        let plan = plan(&config, &report, Path::new("/nonexistent"));
        assert!(plan.changes.is_empty());
        assert_eq!(plan.suggestions.len(), 2);
        assert!(
            plan.suggestions[0].reason.contains("Terraform state"),
            "{:?}",
            plan.suggestions
        );
        assert!(
            plan.suggestions[1]
                .reason
                .contains("rendered by helm from charts/x")
        );
        assert_eq!(plan.suggestions[0].fields[0].live, json!("t3.large"));
    }
}
