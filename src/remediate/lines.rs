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

/// The lines found by a target's earlier scans: for each judged report (shared with the
/// judgement memo, so an unchanged pair's is the same allocation), the report with its lines and
/// the commit they were found at. `serve`'s re-scans read a file again only for a drift they
/// have not located before (the commit's tree is still resolved, so that a repository that can
/// no longer be read gives no lines, as it would in a full scan; a commit does not change, so
/// the same report at the same commit has the same lines).
#[derive(Default)]
pub struct LineMemo {
    /// By the address of the judged report, which the entry holds (so the address is not reused
    /// while it is here).
    located: std::collections::HashMap<usize, Located, foldhash::fast::RandomState>,
    generation: u64,
}

/// One judged report as located.
struct Located {
    judged: Arc<ResourceReport>,
    lines: Arc<ResourceReport>,
    /// The fingerprint of its source's commit.
    commit: u128,
    /// The scan that last used it.
    seen: u64,
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
    let commit_print = |source: &str| {
        let commit = commits.get(source).copied().unwrap_or("");
        // The source's name too: two sources at one commit locate in their own folders.
        Fingerprint::new().str(source).str(commit).finish()
    };
    // (source, file) → indices of the resources declared there and not located before; the
    // resources located before at the same commit, with their lines, by source.
    let mut files: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    let mut known: BTreeMap<String, Vec<(usize, Arc<ResourceReport>)>> = BTreeMap::new();
    for (i, r) in resources.iter().enumerate() {
        if r.status != Status::Drifted || r.api_version == crate::model::aws::API_VERSION {
            continue;
        }
        let Some(source) = &r.source else { continue };
        if source.rendered.is_some() || source.line.is_none() {
            continue;
        }
        let earlier = memo.as_deref_mut().and_then(|m| {
            let located = m.located.get_mut(&(Arc::as_ptr(r) as usize))?;
            let same =
                Arc::ptr_eq(&located.judged, r) && located.commit == commit_print(&source.name);
            same.then(|| {
                located.seen = generation;
                Arc::clone(&located.lines)
            })
        });
        match earlier {
            Some(lines) => known
                .entry(source.name.clone())
                .or_default()
                .push((i, lines)),
            None => files
                .entry((source.name.clone(), source.file.clone()))
                .or_default()
                .push(i),
        }
    }
    // One repository opened, and one tree found, per source: not per file.
    let mut repos: BTreeMap<String, Option<gix::Repository>> = BTreeMap::new();
    for source_name in files.keys().map(|(name, _)| name).chain(known.keys()) {
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
    let trees: BTreeMap<&str, gix::Tree<'_>> = repos
        .iter()
        .filter_map(|(name, repo)| {
            let repo = repo.as_ref()?;
            let commit = commits.get(name.as_str())?;
            let id = gix::ObjectId::from_hex(commit.as_bytes()).ok()?;
            Some((name.as_str(), repo.find_commit(id).ok()?.tree().ok()?))
        })
        .collect();
    // The commit is there, and a commit does not change: reports located at it before have
    // the lines they had.
    for (source_name, located) in known {
        if trees.contains_key(source_name.as_str()) {
            for (i, lines) in located {
                resources[i] = lines;
            }
        }
    }
    for ((source_name, file), indices) in files {
        let Some(tree) = trees.get(source_name.as_str()) else {
            continue;
        };
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
            let judged = memo.is_some().then(|| Arc::clone(&resources[i]));
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
            if let (Some(memo), Some(judged)) = (memo.as_deref_mut(), judged) {
                memo.located.insert(
                    Arc::as_ptr(&judged) as usize,
                    Located {
                        judged,
                        lines: Arc::clone(&resources[i]),
                        commit: commit_print(&source_name),
                        seen: generation,
                    },
                );
            }
        }
    }
    if let Some(memo) = memo {
        memo.located.retain(|_, located| located.seen == generation);
        memo.generation = generation;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ResourceKey, SourceRef};

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(dir)
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// A drifted ConfigMap declared at line 1 of `cm.yaml`, its drift at `/data/b`.
    fn drifted() -> Arc<ResourceReport> {
        let key = ResourceKey {
            group: String::new(),
            kind: "ConfigMap".into(),
            namespace: Some("default".into()),
            name: "cm".into(),
        };
        let mut report = ResourceReport::new("prod", "v1", &key, Status::Drifted);
        report.source = Some(SourceRef {
            name: "apps".into(),
            file: "cm.yaml".into(),
            line: Some(1),
            rendered: None,
        });
        report.drifts.push(crate::diff::Drift {
            path: "/data/b".into(),
            desired: "1".into(),
            live: "2".into(),
            reason: Default::default(),
            changed_by: None,
            changed_at: None,
            owners: Vec::new(),
            git_path: None,
            line: None,
            first_seen: None,
        });
        Arc::new(report)
    }

    /// A re-scan hands back the report located before, unchanged and shared, while the commit is
    /// the same; at another commit whose file moved the field, the same judged report is located
    /// again; a commit that cannot be read gives no line, as a full scan would.
    #[test]
    fn located_reports_are_reused_only_at_the_commit_they_were_located_at() {
        let repo = tempfile::tempdir().unwrap();
        let dir = repo.path();
        git(dir, &["init", "-q"]);
        let head = |text: &str| {
            std::fs::write(dir.join("cm.yaml"), text).unwrap();
            git(dir, &["add", "."]);
            git(dir, &["commit", "-q", "-m", "c"]);
            git(dir, &["rev-parse", "HEAD"])
        };
        let document =
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: x\n  b: \"1\"\n";
        let first = head(document);
        let second = head(&document.replace("  a: x\n", "  a: x\n  # b moved down\n"));
        let config = Config::from_str(
            &format!(
                "sources:\n  - name: apps\n    repo: {}\n    target: prod\ntargets:\n  - name: prod\n    snapshot: ./live\n",
                dir.display()
            ),
            &dir.join("gitdrift.yaml"),
            dir,
            &crate::live::known(),
        )
        .unwrap();
        let judged = drifted();
        let mut memo = LineMemo::default();
        let line_at = |commit: &str, memo: &mut LineMemo| {
            let commits = BTreeMap::from([("apps", commit)]);
            let mut resources = vec![Arc::clone(&judged)];
            locate(&config, dir, &commits, &mut resources, Some(memo));
            let line = resources[0].drifts[0].line;
            (line, resources.pop().unwrap())
        };
        let (line, located) = line_at(&first, &mut memo);
        assert_eq!(line, Some(7));
        assert!(
            judged.drifts[0].line.is_none(),
            "the judged report is not written to"
        );
        let (again, reused) = line_at(&first, &mut memo);
        assert_eq!(again, Some(7));
        assert!(Arc::ptr_eq(&located, &reused), "located again, not reused");
        assert_eq!(
            line_at(&second, &mut memo).0,
            Some(8),
            "the commit moved the field"
        );
        assert_eq!(line_at(&second, &mut memo).0, Some(8));
        let missing = "0".repeat(40);
        assert_eq!(line_at(&missing, &mut memo).0, None, "an unreadable commit");
        // Without a memo: the same lines.
        let commits = BTreeMap::from([("apps", first.as_str())]);
        let mut resources = vec![Arc::clone(&judged)];
        locate(&config, dir, &commits, &mut resources, None);
        assert_eq!(resources[0].drifts[0].line, Some(7));
    }
}
