//! Where in git a drifted field is declared. After the judgement, each file that holds a drifted
//! resource is read once more at the scanned commit (a handful of files, not the tree), and each
//! drift gets the line of its field's key — the nearest existing ancestor's for a field git does
//! not have. Rendered objects keep their rendered origin: their lines are the renderer's output,
//! not a file in git. It lives beside the YAML reader and the commit reader the edits use.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::{planning, yaml_edit};
use crate::config::Config;
use crate::diff::Status;
use crate::judge::ResourceReport;
use crate::model::fingerprint::Fingerprint;

/// The lines found by a target's earlier scans, by the fingerprint of what decides each (source,
/// commit, file, the object's first line, the field): `serve`'s re-scans read a file again only
/// for a drift they have not located before (the commit's tree is still resolved, so that a
/// repository that can no longer be read gives no lines, as it would in a full scan; a file a
/// located drift was in is there, as a commit does not change).
#[derive(Default)]
pub struct LineMemo {
    lines: std::collections::HashMap<u128, (u64, u64), foldhash::fast::RandomState>,
    generation: u64,
}

/// Sets `line` on the drifts of plain-manifest resources; `commits` maps each source to the
/// commit the scan read. A file that cannot be read again leaves its drifts without a line.
/// With a `memo`, drifts located before are not looked up again. Only the resources given a
/// line are copied out of what they share (`serve`'s memo).
pub fn locate(
    config: &Config,
    cache_dir: &Path,
    commits: &BTreeMap<&str, &str>,
    resources: &mut [Arc<ResourceReport>],
    mut memo: Option<&mut LineMemo>,
) {
    let generation = memo.as_deref().map_or(0, |m| m.generation.wrapping_add(1));
    // (source, file) → indices of the resources declared there.
    let mut files: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for (i, r) in resources.iter().enumerate() {
        if r.status != Status::Drifted || r.api_version == crate::model::aws::API_VERSION {
            continue;
        }
        if let Some(source) = &r.source
            && source.rendered.is_none()
            && source.line.is_some()
        {
            files
                .entry((source.name.clone(), source.file.clone()))
                .or_default()
                .push(i);
        }
    }
    // One repository opened, and one tree found, per source: not per file.
    let mut repos: BTreeMap<String, Option<gix::Repository>> = BTreeMap::new();
    for (source_name, _) in files.keys() {
        if repos.contains_key(source_name) {
            continue;
        }
        let repo = config
            .sources
            .iter()
            .find(|s| &s.name == source_name)
            .and_then(|s| planning::repo_path(&s.repo, cache_dir).ok())
            .and_then(|path| gix::open(path).ok())
            .map(|mut repo| {
                // The trees above the files are looked up once per file: kept decoded.
                repo.object_cache_size_if_unset(4 * 1024 * 1024);
                repo
            });
        repos.insert(source_name.clone(), repo);
    }
    let mut opened: Option<(String, Option<gix::Tree<'_>>)> = None;
    for ((source_name, file), indices) in files {
        let commit = commits.get(source_name.as_str()).copied().unwrap_or("");
        let place = |resource: &ResourceReport, drift: &crate::diff::Drift| {
            let mut print = Fingerprint::new();
            print
                .str(&source_name)
                .str(commit)
                .str(&file)
                .number(resource.source.as_ref().and_then(|s| s.line).unwrap_or(0))
                .str(&resource.kind)
                .str(&resource.api_version)
                .opt(drift.git_path.as_deref())
                .str(&drift.path);
            print.finish()
        };
        if opened.as_ref().is_none_or(|(name, _)| *name != source_name) {
            let tree = repos
                .get(&source_name)
                .and_then(Option::as_ref)
                .zip(commits.get(source_name.as_str()))
                .and_then(|(repo, commit)| {
                    let id = gix::ObjectId::from_hex(commit.as_bytes()).ok()?;
                    repo.find_commit(id).ok()?.tree().ok()
                });
            opened = Some((source_name.clone(), tree));
        }
        let Some((_, Some(tree))) = &opened else {
            continue;
        };
        // The commit is there, and a commit does not change: drifts located in its file before
        // are where they were.
        if let Some(memo) = memo.as_deref_mut() {
            let known = indices.iter().all(|&i| {
                let resource = &resources[i];
                resource
                    .drifts
                    .iter()
                    .all(|d| memo.lines.contains_key(&place(resource, d)))
            });
            if known {
                for &i in &indices {
                    let resource = Arc::make_mut(&mut resources[i]);
                    let places: Vec<u128> =
                        resource.drifts.iter().map(|d| place(resource, d)).collect();
                    for (drift, at) in resource.drifts.iter_mut().zip(places) {
                        if let Some(known) = memo.lines.get_mut(&at) {
                            known.1 = generation;
                            drift.line = Some(known.0);
                        }
                    }
                }
                continue;
            }
        }
        let Some(entry) = tree.lookup_entry_by_path(&file).ok().flatten() else {
            continue;
        };
        let Some(text) = entry
            .object()
            .ok()
            .and_then(|object| String::from_utf8(object.data.clone()).ok())
        else {
            continue;
        };
        // Each object's document parsed alone (files hold many), the whole file only where
        // that finds nothing. A document that does not parse leaves only its own objects
        // without lines.
        let parts = yaml_edit::documents(&text);
        let mut parsed: BTreeMap<usize, Vec<yaml_edit::Node>> = BTreeMap::new();
        let mut whole: Option<Vec<yaml_edit::Node>> = None;
        for i in indices {
            let Some(start) = resources[i].source.as_ref().and_then(|s| s.line) else {
                continue;
            };
            let start = start as usize;
            let part = parts.part_of(start);
            let docs = parsed
                .entry(part)
                .or_insert_with(|| parts.parse(part).unwrap_or_default());
            let object = match yaml_edit::object_at(docs, start) {
                Some(object) => object,
                None => {
                    let docs =
                        whole.get_or_insert_with(|| yaml_edit::parse(&text).unwrap_or_default());
                    match yaml_edit::object_at(docs, start) {
                        Some(object) => object,
                        None => continue,
                    }
                }
            };
            let resource = Arc::make_mut(&mut resources[i]);
            let is_secret = resource.kind == "Secret" && resource.api_version == "v1";
            for drift in &mut resource.drifts {
                let pointer = drift.git_path.as_deref().unwrap_or(&drift.path);
                let mut path = crate::model::pointer::parse(pointer).unwrap_or_default();
                while path.last().is_some_and(|s| s == "-") {
                    path.pop();
                }
                let (mut line, found) = yaml_edit::line_of(object, &path);
                // A Secret's value may be declared under `stringData`, compared as `data`.
                if is_secret && !found && path.first().is_some_and(|s| s == "data") {
                    path[0] = "stringData".to_string();
                    let (string_line, string_found) = yaml_edit::line_of(object, &path);
                    if string_found {
                        line = string_line;
                    }
                }
                drift.line = Some(line as u64);
            }
            if let Some(memo) = memo.as_deref_mut() {
                let resource = &resources[i];
                for drift in &resource.drifts {
                    if let Some(line) = drift.line {
                        memo.lines
                            .insert(place(resource, drift), (line, generation));
                    }
                }
            }
        }
    }
    if let Some(memo) = memo {
        memo.lines.retain(|_, (_, seen)| *seen == generation);
        memo.generation = generation;
    }
}
