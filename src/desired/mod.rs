//! Desired state: what git declares. Reads a source's committed tree at its ref, parses the
//! selected manifests in parallel and returns the declared objects with their file and line.

pub mod aws;
mod child;
pub mod git;
pub mod render;
pub mod terraform;

use std::path::Path;

use rayon::prelude::*;

use crate::config::{Config, Render, Source};
use crate::model::{Code, Declared, Problem, Severity};

/// The outcome of reading one source.
#[derive(Clone, Debug)]
pub struct SourceRead {
    /// The source's name.
    pub source: String,
    /// Commit id the files came from; `None` when the repository could not be read.
    pub commit: Option<String>,
    /// The commit's committer time (git sources; a state file has none).
    pub committed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// How many files were parsed.
    pub files: usize,
    /// Declared objects.
    pub objects: Vec<Declared>,
    /// Problems, each naming the file and line where known.
    pub problems: Vec<Problem>,
    /// Waivers from the source's waiver file.
    pub waivers: Vec<crate::config::audit::Waiver>,
    /// Set when this is an earlier read kept because the source cannot be read now (`serve`):
    /// the reason it is stale.
    pub stale: Option<String>,
    /// Which read this is ([`next_read`]): every read of a source gets its own number, and a
    /// copy keeps it. A re-scan that meets the same reads keeps what it built of git's side
    /// (the judge's index) without comparing every object again; whoever changes `objects`
    /// must give the read a new number.
    pub read: u64,
}

impl SourceRead {
    /// A fingerprint of what it holds for a scan: its declarations (each one's source and
    /// object, in order) and its waivers.
    pub fn contents_print(&self) -> u128 {
        let mut print = crate::model::fingerprint::Fingerprint::new();
        print.number(self.objects.len() as u64);
        for item in &self.objects {
            print.str(&item.source).object(&item.object);
        }
        print.str(&format!("{:?}", self.waivers)).finish()
    }

    /// Takes the number of an `earlier` read that held exactly what this one holds (the same
    /// commit, declarations and waivers): a source fetched again at the same commit is then
    /// the same read to a re-scan, which keeps what it built of git's side.
    pub fn continues(&mut self, earlier: &SourceRead) {
        if self.source == earlier.source
            && self.commit.is_some()
            && self.commit == earlier.commit
            && self.contents_print() == earlier.contents_print()
        {
            self.read = earlier.read;
        }
    }
}

/// A number no read of a source had before ([`SourceRead::read`]).
pub fn next_read() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Turns gitdrift's AWS declarations among parsed objects into declared AWS objects; a bad
/// declaration becomes an error of its file.
fn declarations_to_aws(parsed: &mut crate::manifest::ParsedFile, region: Option<&str>) {
    let objects = std::mem::take(&mut parsed.objects);
    for object in objects {
        if aws::is_declaration(&object) {
            match aws::from_declaration(&object, region) {
                Ok(declared) => parsed.objects.push(declared),
                Err(problem) => parsed.errors.push(problem),
            }
        } else {
            parsed.objects.push(object);
        }
    }
}

/// A Terraform state file read as if it were a manifest file.
fn state_as_parsed(file: &str, bytes: &[u8], region: Option<&str>) -> crate::manifest::ParsedFile {
    let read = terraform::parse(file, bytes, region);
    let mut parsed = crate::manifest::ParsedFile {
        objects: read.objects,
        errors: read.errors,
        notes: Vec::new(),
    };
    if !read.skipped.is_empty() {
        let kinds: Vec<String> = read
            .skipped
            .iter()
            .map(|(kind, count)| format!("{kind} ({count})"))
            .collect();
        parsed.notes.push(crate::manifest::FileProblem::at(
            Code::SourceTerraformSkipped,
            None,
            format!(
                "Terraform resources of types gitdrift does not read were skipped: {}",
                kinds.join(", ")
            ),
        ));
    }
    parsed
}

/// A source that is one local Terraform state file (outside git).
fn read_state_file(config: &Config, source: &Source, path: &Path, out: &mut SourceRead) {
    let shown = path.display().to_string();
    let bytes = match std::fs::metadata(path).and_then(|meta| {
        if meta.len() > config.limits.max_file_bytes {
            Err(std::io::Error::other(format!(
                "file is {} bytes, over the limit of {} bytes (raise limits.max_file_size to read it)",
                meta.len(),
                config.limits.max_file_bytes
            )))
        } else {
            std::fs::read(path)
        }
    }) {
        Ok(bytes) => bytes,
        Err(err) => {
            out.problems.push(
                Problem::new(
                    Severity::Error,
                    Code::SourceUnread,
                    format!("cannot read: {err}"),
                )
                .source(&source.name)
                .at(&shown, None),
            );
            return;
        }
    };
    let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
    let hex: String = digest
        .as_ref()
        .iter()
        .take(10)
        .map(|b| format!("{b:02x}"))
        .collect();
    out.commit = Some(format!("sha256:{hex}"));
    out.files = 1;
    let mut parsed = state_as_parsed(&shown, &bytes, source.region.as_deref());
    for problem in parsed.take_problems(&shown) {
        out.problems.push(problem.source(&source.name));
    }
    out.objects = parsed
        .objects
        .into_iter()
        .map(|mut object| {
            object.body.freeze();
            Declared {
                source: source.name.clone(),
                object,
            }
        })
        .collect();
}

/// Reads and parses one source. Never fails as a whole: a repository that cannot be read is an
/// error problem naming the source, and a bad file is an error naming the file.
pub fn read_source(config: &Config, source: &Source, cache_dir: &Path) -> SourceRead {
    let mut out = SourceRead {
        source: source.name.clone(),
        commit: None,
        committed_at: None,
        files: 0,
        objects: Vec::new(),
        problems: Vec::new(),
        waivers: Vec::new(),
        stale: None,
        read: next_read(),
    };
    let filter = match git::FileFilter::new(&source.paths, &source.exclude) {
        Ok(filter) => filter,
        Err(err) => {
            out.problems.push(
                Problem::new(
                    Severity::Error,
                    Code::ConfigInvalidValue,
                    format!("invalid glob: {err}"),
                )
                .source(&source.name),
            );
            return out;
        }
    };
    if let crate::config::RepoLocation::StateFile(path) = &source.repo {
        read_state_file(config, source, path, &mut out);
        return out;
    }
    let rendered = !matches!(source.render, Render::Plain);
    // A render needs the whole tree (bases, patches, templates), minus what `exclude` names.
    let tree = match git::read_tree(
        source,
        cache_dir,
        config.git.fetch_timeout,
        config.limits.max_file_bytes,
        |path| {
            if source.waivers.as_deref() == Some(path) {
                true
            } else if rendered {
                !filter.excludes(path)
            } else {
                filter.selects(path)
            }
        },
    ) {
        Ok(tree) => tree,
        Err(err) => {
            out.problems.push(
                Problem::new(Severity::Error, err.code(), err.to_string()).source(&source.name),
            );
            return out;
        }
    };
    let mut tree = tree;
    if let Some(path) = &source.waivers {
        read_waivers(config, source, path, &mut tree, &mut out);
    }
    out.files = tree.files.len();
    let refused_severity = if rendered {
        Severity::Note
    } else {
        Severity::Error
    };
    for (file, reason) in &tree.refused {
        out.problems.push(
            Problem::new(refused_severity, Code::ManifestTooLarge, reason.clone())
                .source(&source.name)
                .at(file, None),
        );
    }
    let mut objects = Vec::new();
    if rendered {
        let read = render::render(source, &tree.commit, &tree.files, &config.limits);
        for (path, err) in read.errors {
            let file = match &err {
                render::RenderError::Refused { path, .. } => path.clone(),
                _ => path,
            };
            out.problems.push(
                Problem::new(Severity::Error, err.code(), err.to_string())
                    .source(&source.name)
                    .at(&file, None),
            );
        }
        for (path, note) in read.notes {
            out.problems.push(
                Problem::new(Severity::Note, Code::RenderSkipped, note)
                    .source(&source.name)
                    .at(&path, None),
            );
        }
        objects = read.objects;
    } else {
        let parsed: Vec<(String, crate::manifest::ParsedFile)> = tree
            .files
            .par_iter()
            .map(|file| {
                let parsed = if terraform::is_state_file(&file.path) {
                    state_as_parsed(&file.path, &file.bytes, source.region.as_deref())
                } else {
                    let syntax = crate::manifest::Syntax::of_path(&file.path)
                        .unwrap_or(crate::manifest::Syntax::Yaml);
                    let mut parsed =
                        crate::manifest::parse(&file.path, &file.bytes, syntax, &config.limits);
                    declarations_to_aws(&mut parsed, source.region.as_deref());
                    parsed
                };
                // Frozen here, file by file: holding every object as a tree until all files are
                // parsed costs several times their size at once.
                let mut parsed = parsed;
                parsed.objects.iter_mut().for_each(finish);
                (file.path.clone(), parsed)
            })
            .collect();
        for (path, mut parsed) in parsed {
            for problem in parsed.take_problems(&path) {
                out.problems.push(problem.source(&source.name));
            }
            objects.extend(parsed.objects);
        }
    }
    out.commit = Some(tree.commit);
    out.committed_at = tree.committed_at;
    // Rendered objects come as trees; plain ones were frozen as they were parsed.
    objects.par_iter_mut().for_each(finish);
    out.objects = objects
        .into_iter()
        .map(|object| Declared {
            source: source.name.clone(),
            object,
        })
        .collect();
    out
}

/// A declared object as it is kept: without the last-applied annotation, frozen into text.
fn finish(object: &mut crate::model::Object) {
    if let Some(value) = object.body.tree_mut() {
        crate::model::drop_last_applied(value);
    }
    object.body.freeze();
}

/// Takes the source's waiver file out of the tree (it is not a manifest) and reads it.
fn read_waivers(
    config: &Config,
    source: &Source,
    path: &str,
    tree: &mut git::TreeRead,
    out: &mut SourceRead,
) {
    let Some(index) = tree.files.iter().position(|f| f.path == path) else {
        out.problems.push(
            Problem::new(
                Severity::Error,
                Code::AuditWaiverInvalid,
                format!("waiver file {path} is not in the tree at the source's ref"),
            )
            .source(&source.name),
        );
        return;
    };
    let text = String::from_utf8_lossy(&tree.files[index].bytes).into_owned();
    // A render needs the whole tree; plain sources parse what is left as manifests.
    if matches!(source.render, Render::Plain) {
        tree.files.remove(index);
    }
    match crate::config::audit::parse_waivers(
        &text,
        Path::new(path),
        chrono::Utc::now().date_naive(),
        config.audit.max_waiver_days,
    ) {
        Ok(waivers) => out.waivers = waivers,
        Err(errors) => {
            for e in errors {
                out.problems.push(
                    Problem::new(Severity::Error, Code::AuditWaiverInvalid, e.message)
                        .source(&source.name)
                        .at(path, Some(e.line)),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Declared;
    use serde_json::json;

    fn read(commit: Option<&str>, replicas: u64) -> SourceRead {
        let object = crate::manifest::object_from_value(
            "apps/web.yaml",
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "web", "namespace": "shop"},
                   "spec": {"replicas": replicas}}),
        )
        .unwrap();
        SourceRead {
            source: "apps".into(),
            commit: commit.map(str::to_string),
            committed_at: None,
            files: 1,
            objects: vec![Declared {
                source: "apps".into(),
                object,
            }],
            problems: Vec::new(),
            waivers: Vec::new(),
            stale: None,
            read: next_read(),
        }
    }

    /// A source fetched again at the same commit with the same declarations is the same read;
    /// anything else is a new one.
    #[test]
    fn a_read_continues_an_earlier_one_only_when_it_holds_the_same() {
        let earlier = read(Some("c1"), 2);
        let mut same = read(Some("c1"), 2);
        assert_ne!(same.read, earlier.read, "every read is numbered anew");
        same.continues(&earlier);
        assert_eq!(same.read, earlier.read, "the same commit and declarations");
        for (mut later, what) in [
            (
                read(Some("c1"), 3),
                "a declaration that differs at the same commit",
            ),
            (read(Some("c2"), 2), "another commit"),
            (read(None, 2), "a read that failed"),
        ] {
            let number = later.read;
            later.continues(&earlier);
            assert_eq!(later.read, number, "{what} is a new read");
        }
        let mut renamed = read(Some("c1"), 2);
        renamed.source = "other".into();
        let number = renamed.read;
        renamed.continues(&earlier);
        assert_eq!(renamed.read, number, "another source is a new read");
    }
}
