//! Desired state: what git declares. Reads a source's committed tree at its ref, parses the
//! selected manifests in parallel and returns the declared objects with their file and line.

pub mod git;
pub mod render;

use std::path::Path;

use rayon::prelude::*;

use crate::config::{Config, Render, Source};
use crate::model::{Declared, Problem, Severity};

/// The outcome of reading one source.
#[derive(Debug)]
pub struct SourceRead {
    /// The source's name.
    pub source: String,
    /// Commit id the files came from; `None` when the repository could not be read.
    pub commit: Option<String>,
    /// How many files were parsed.
    pub files: usize,
    /// Declared objects.
    pub objects: Vec<Declared>,
    /// Problems, each naming the file and line where known.
    pub problems: Vec<Problem>,
}

/// Reads and parses one source. Never fails as a whole: a repository that cannot be read is an
/// error problem naming the source, and a bad file is an error naming the file.
pub fn read_source(config: &Config, source: &Source, cache_dir: &Path) -> SourceRead {
    let mut out = SourceRead {
        source: source.name.clone(),
        commit: None,
        files: 0,
        objects: Vec::new(),
        problems: Vec::new(),
    };
    let filter = match git::FileFilter::new(&source.paths, &source.exclude) {
        Ok(filter) => filter,
        Err(err) => {
            out.problems.push(
                Problem::new(Severity::Error, format!("invalid glob: {err}")).source(&source.name),
            );
            return out;
        }
    };
    let rendered = !matches!(source.render, Render::Plain);
    // A render needs the whole tree (bases, patches, templates), minus what `exclude` names.
    let tree = match git::read_tree(
        source,
        cache_dir,
        config.git.fetch_timeout,
        config.limits.max_file_bytes,
        |path| {
            if rendered {
                !filter.excludes(path)
            } else {
                filter.selects(path)
            }
        },
    ) {
        Ok(tree) => tree,
        Err(err) => {
            out.problems
                .push(Problem::new(Severity::Error, err.to_string()).source(&source.name));
            return out;
        }
    };
    out.files = tree.files.len();
    let refused_severity = if rendered {
        Severity::Note
    } else {
        Severity::Error
    };
    for (file, reason) in &tree.refused {
        out.problems.push(
            Problem::new(refused_severity, reason.clone())
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
                Problem::new(Severity::Error, err.to_string())
                    .source(&source.name)
                    .at(&file, None),
            );
        }
        for (path, note) in read.notes {
            out.problems.push(
                Problem::new(Severity::Note, note)
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
                let syntax = crate::manifest::Syntax::of_path(&file.path)
                    .unwrap_or(crate::manifest::Syntax::Yaml);
                let parsed =
                    crate::manifest::parse(&file.path, &file.bytes, syntax, &config.limits);
                (file.path.clone(), parsed)
            })
            .collect();
        for (path, parsed) in parsed {
            for problem in parsed.errors {
                out.problems.push(
                    Problem::new(Severity::Error, problem.message)
                        .source(&source.name)
                        .at(&path, problem.line),
                );
            }
            for note in parsed.notes {
                out.problems.push(
                    Problem::new(Severity::Note, note.message)
                        .source(&source.name)
                        .at(&path, note.line),
                );
            }
            objects.extend(parsed.objects);
        }
    }
    out.commit = Some(tree.commit);
    objects.par_iter_mut().for_each(|object| {
        if let Some(value) = object.body.tree_mut() {
            crate::model::drop_last_applied(value);
        }
        object.body.freeze();
    });
    out.objects = objects
        .into_iter()
        .map(|object| Declared {
            source: source.name.clone(),
            object,
        })
        .collect();
    out
}
