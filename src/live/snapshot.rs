//! Offline live state: a folder (or a single file) of objects exported with
//! `kubectl get … -o yaml` or `-o json` — single objects, multi-document streams and `kind: List`,
//! in any mix. Reading a snapshot touches nothing but those files.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::LiveRead;
use crate::desired::manifest::{self, Limits, Syntax};
use crate::model::{Problem, Severity};

/// Reads objects from a snapshot folder or file.
#[derive(Clone, Debug)]
pub struct SnapshotProvider {
    path: PathBuf,
}

impl SnapshotProvider {
    /// A provider for the folder or file at `path`.
    pub fn new(path: PathBuf) -> SnapshotProvider {
        SnapshotProvider { path }
    }

    /// The folder or file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads every manifest file below the path (symbolic links are not followed).
    pub fn read(&self, target: &str, limits: &Limits) -> LiveRead {
        let mut out = LiveRead::empty();
        let fail = |message: String| {
            Problem::new(Severity::Error, message)
                .target(target)
                .at(&self.path.display().to_string(), None)
        };
        let meta = match std::fs::metadata(&self.path) {
            Ok(meta) => meta,
            Err(err) => {
                out.problems
                    .push(fail(format!("cannot read snapshot: {err}")));
                out.complete = false;
                return out;
            }
        };
        let mut files = Vec::new();
        if meta.is_file() {
            files.push(self.path.clone());
        } else {
            for entry in walkdir::WalkDir::new(&self.path).sort_by_file_name() {
                match entry {
                    Ok(entry) if entry.file_type().is_file() => {
                        let name = entry.path().to_string_lossy();
                        if Syntax::of_path(&name).is_some() {
                            files.push(entry.into_path());
                        }
                    }
                    Ok(_) => {}
                    Err(err) => out
                        .problems
                        .push(fail(format!("cannot list snapshot: {err}"))),
                }
            }
        }
        let base = if meta.is_file() {
            self.path.parent().unwrap_or(Path::new("")).to_path_buf()
        } else {
            self.path.clone()
        };
        let parsed: Vec<(String, Result<manifest::ParsedFile, String>)> = files
            .par_iter()
            .map(|path| {
                let shown = path
                    .strip_prefix(&base)
                    .unwrap_or(path)
                    .to_string_lossy()
                    .replace('\\', "/");
                (shown.clone(), read_file(path, &shown, limits))
            })
            .collect();
        for (shown, result) in parsed {
            match result {
                Ok(parsed) => {
                    for problem in parsed.errors {
                        out.problems.push(
                            Problem::new(Severity::Error, problem.message)
                                .target(target)
                                .at(&shown, problem.line),
                        );
                    }
                    for note in parsed.notes {
                        out.problems.push(
                            Problem::new(Severity::Note, note.message)
                                .target(target)
                                .at(&shown, note.line),
                        );
                    }
                    out.objects.extend(parsed.objects);
                }
                Err(message) => out.problems.push(
                    Problem::new(Severity::Error, message)
                        .target(target)
                        .at(&shown, None),
                ),
            }
        }
        out
    }
}

fn read_file(path: &Path, shown: &str, limits: &Limits) -> Result<manifest::ParsedFile, String> {
    let size = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if size > limits.max_file_bytes {
        return Err(format!(
            "file is {size} bytes, over the limit of {} bytes",
            limits.max_file_bytes
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let syntax = Syntax::of_path(shown).unwrap_or(Syntax::Yaml);
    let mut parsed = manifest::parse(shown, &bytes, syntax, limits);
    drop(bytes);
    parsed.objects.iter_mut().for_each(super::compact);
    Ok(parsed)
}
