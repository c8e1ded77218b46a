//! Offline live state: a folder (or a single file) of objects exported with
//! `kubectl get … -o yaml` or `-o json` — single objects, multi-document streams and `kind: List`,
//! in any mix. Reading a snapshot touches nothing but those files.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::LiveRead;
use crate::config::Limits;
use crate::manifest::FileProblem;
use crate::manifest::{self, Syntax};
use crate::model::{Code, Problem, Severity};

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
            Problem::new(Severity::Error, Code::SnapshotUnreadable, message)
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
        let parsed: Vec<(String, Result<FileRead, FileProblem>)> = files
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
                Ok((mut parsed, aws_read)) => {
                    out.aws_read.extend(aws_read);
                    for problem in parsed.take_problems(&shown) {
                        out.problems.push(problem.target(target));
                    }
                    out.objects.extend(parsed.objects);
                }
                Err(problem) => out.problems.push(
                    Problem::new(Severity::Error, problem.code, problem.message)
                        .target(target)
                        .at(&shown, None),
                ),
            }
        }
        out
    }
}

/// A file's objects, and the AWS (region, type) pairs it holds in full.
type FileRead = (manifest::ParsedFile, Vec<(String, String)>);

fn read_file(path: &Path, shown: &str, limits: &Limits) -> Result<FileRead, FileProblem> {
    use std::io::Read;
    let unreadable = |message: String| FileProblem::at(Code::SnapshotUnreadable, None, message);
    let size = std::fs::metadata(path)
        .map_err(|e| unreadable(e.to_string()))?
        .len();
    let syntax = Syntax::of_path(shown).unwrap_or(Syntax::Yaml);
    // Past the limit for files in git, only a Kubernetes list in JSON (`kubectl get -o json` of
    // a cluster) is read: object by object, each frozen as it is read, so that it is never held
    // whole, up to its own limit. Anything else that large is refused, as in git.
    if size > limits.max_file_bytes {
        let too_large = |limit: u64, key: &str| {
            FileProblem::at(
                Code::ManifestTooLarge,
                None,
                format!(
                    "file is {size} bytes, over the limit of {limit} bytes (raise {key} to read it; a JSON `kind: List`, as `kubectl get -o json` writes, is read object by object up to limits.max_snapshot_file_size)"
                ),
            )
        };
        if syntax != Syntax::Json {
            return Err(too_large(limits.max_file_bytes, "limits.max_file_size"));
        }
        if size > limits.max_snapshot_file_bytes {
            return Err(too_large(
                limits.max_snapshot_file_bytes,
                "limits.max_snapshot_file_size",
            ));
        }
        let mut file =
            std::fs::File::open(path).map_err(|e| unreadable(format!("cannot read: {e}")))?;
        let mut head = Vec::with_capacity(4096);
        (&mut file)
            .take(4096)
            .read_to_end(&mut head)
            .map_err(|e| unreadable(format!("cannot read: {e}")))?;
        // A byte-order mark, as `manifest::parse` allows one.
        if head.starts_with(b"\xEF\xBB\xBF") {
            head.drain(..3);
        }
        if !head.windows(12).any(|w| w == b"\"apiVersion\"") {
            return Err(too_large(limits.max_file_bytes, "limits.max_file_size"));
        }
        let reader =
            std::io::BufReader::with_capacity(1 << 20, std::io::Cursor::new(head).chain(file));
        return manifest::parse_json_list(shown, reader, limits, &mut |o| super::compact(o))
            .map(|parsed| (parsed, Vec::new()))
            .map_err(|manifest::NotAList| {
                too_large(limits.max_file_bytes, "limits.max_file_size")
            });
    }
    let bytes = std::fs::read(path).map_err(|e| unreadable(format!("cannot read: {e}")))?;
    // `aws ec2 describe-*` output: no apiVersion anywhere near the top.
    let head = &bytes[..bytes.len().min(4096)];
    if syntax == Syntax::Json
        && !head.windows(12).any(|w| w == b"\"apiVersion\"")
        && let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes)
        && super::aws::offline::is_describe_output(&value)
    {
        let Some(region) = super::aws::offline::region_of(Path::new(shown)) else {
            return Err(unreadable(
                "AWS describe output must be in a folder named after its region (eu-west-1/…)"
                    .to_string(),
            ));
        };
        let types = super::aws::offline::types_in(&value)
            .into_iter()
            .map(|t| (region.clone(), t.to_string()))
            .collect();
        let parsed = manifest::ParsedFile {
            objects: super::aws::offline::objects(&value, &region),
            errors: Vec::new(),
            notes: Vec::new(),
        };
        return Ok((parsed, types));
    }
    let mut parsed = manifest::parse(shown, &bytes, syntax, limits);
    drop(bytes);
    parsed.objects.iter_mut().for_each(super::compact);
    Ok((parsed, Vec::new()))
}

/// Writes live objects as a snapshot folder this provider reads back: one `kind: List` JSON file
/// per kind (what `kubectl get -o json` writes), objects ordered by namespace and name. Secret
/// values are replaced by digest markers (see [`crate::digest`]); managedFields are written
/// whole. Returns the files written.
pub fn write(dir: &Path, read: &LiveRead) -> std::io::Result<Vec<PathBuf>> {
    use serde_json::Value;
    use std::collections::BTreeMap;

    std::fs::create_dir_all(dir)?;
    let (aws, objects): (Vec<&crate::model::Object>, Vec<&crate::model::Object>) = read
        .objects
        .iter()
        .partition(|o| crate::model::aws::is_aws(&o.group));
    let mut written = super::aws::offline::write(dir, &aws, &read.aws_read)?;
    let mut by_kind: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
    for object in objects {
        let mut value = object.value().into_owned();
        restore_managed_fields(&mut value);
        if object.group.is_empty() && object.kind == "Secret" {
            hide_secret_values(&mut value);
        }
        by_kind
            .entry((object.group.clone(), object.kind.clone()))
            .or_default()
            .push(value);
    }
    for ((group, kind), mut items) in by_kind {
        items.sort_by_key(|v| {
            (
                v.pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                v.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            )
        });
        let name = if group.is_empty() {
            format!("{}.json", kind.to_lowercase())
        } else {
            format!("{}.{group}.json", kind.to_lowercase())
        };
        let list = serde_json::json!({
            "apiVersion": "v1",
            "kind": "List",
            "metadata": {"resourceVersion": ""},
            "items": items,
        });
        let mut text = serde_json::to_string_pretty(&list).map_err(std::io::Error::other)?;
        text.push('\n');
        let path = dir.join(name);
        crate::files::write_atomically(&path, &text, crate::files::Access::Private)?;
        written.push(path);
    }
    Ok(written)
}

/// Turns fieldsV1 kept as compact text (see `live::compact`) back into trees.
fn restore_managed_fields(value: &mut serde_json::Value) {
    if let Some(entries) = value
        .pointer_mut("/metadata/managedFields")
        .and_then(serde_json::Value::as_array_mut)
    {
        for entry in entries {
            if let Some(fields) = entry.get_mut("fieldsV1")
                && let Some(text) = fields.as_str()
                && let Ok(tree) = serde_json::from_str(text)
            {
                *fields = tree;
            }
        }
    }
}

/// Replaces every value of a Secret's `data` with its digest marker; drops `stringData`.
fn hide_secret_values(value: &mut serde_json::Value) {
    use serde_json::Value;
    if let Some(map) = value.as_object_mut() {
        map.remove("stringData");
    }
    if let Some(data) = value.get_mut("data").and_then(Value::as_object_mut) {
        for item in data.values_mut() {
            let bytes = match item.as_str() {
                Some(text) => {
                    crate::digest::decode_base64(text).unwrap_or_else(|| text.as_bytes().to_vec())
                }
                None => item.to_string().into_bytes(),
            };
            *item = Value::String(crate::digest::marker(&bytes));
        }
    }
}
