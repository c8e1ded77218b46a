//! Where rules come from: the built-in packs embedded in the binary from `rules/compliance/`, and
//! users' folders. A pack is a folder of `.rego` files; `*_test.rego` files beside them are its
//! unit tests (run by `gitdrift rules test`, never by a scan). The built-in `lib` folder holds
//! helpers every pack may import (`data.gitdrift.lib.kubernetes`), and has no rules of its own.

use std::path::Path;

use include_dir::{Dir, include_dir};

/// The built-in packs, as the binary was built with them.
static BUILTIN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/rules/compliance");

/// The folder name of the helper library.
pub const LIB: &str = "lib";

/// One Rego file of a pack.
#[derive(Clone, Debug)]
pub struct RuleFile {
    /// The pack: its folder's name (the path below a configured folder for users' packs).
    pub pack: String,
    /// How the file is named in messages: `builtin:pod-security-baseline/privileged.rego`, or
    /// its path as configured.
    pub path: String,
    /// The Rego text.
    pub text: String,
    /// Whether this is a unit-test file (`*_test.rego`).
    pub test: bool,
    /// Whether the file is built in.
    pub builtin: bool,
}

fn is_test(name: &str) -> bool {
    name.ends_with("_test.rego")
}

impl RuleFile {
    /// A user's rule file held in memory (`*_test.rego` names a test file).
    pub fn inline(pack: &str, path: &str, text: &str) -> RuleFile {
        RuleFile {
            pack: pack.to_string(),
            path: path.to_string(),
            text: text.to_string(),
            test: is_test(path),
            builtin: false,
        }
    }
}

/// Every file of the built-in packs (and the helper library), ordered by path.
pub fn builtin() -> Vec<RuleFile> {
    let mut out = Vec::new();
    for pack in BUILTIN.dirs() {
        let name = pack.path().to_string_lossy().to_string();
        let mut files: Vec<_> = pack
            .files()
            .filter(|f| f.path().extension().is_some_and(|e| e == "rego"))
            .collect();
        files.sort_by_key(|f| f.path());
        for file in files {
            let Some(text) = file.contents_utf8() else {
                continue;
            };
            let path = file.path().to_string_lossy().to_string();
            out.push(RuleFile {
                pack: name.clone(),
                test: is_test(&path),
                path: format!("builtin:{path}"),
                text: text.to_string(),
                builtin: true,
            });
        }
    }
    out
}

/// The names of the built-in packs (without the helper library).
pub fn builtin_packs() -> Vec<String> {
    let mut names: Vec<String> = BUILTIN
        .dirs()
        .map(|d| d.path().to_string_lossy().to_string())
        .filter(|n| n != LIB)
        .collect();
    names.sort();
    names
}

/// Every `.rego` file below a folder (or the one file named). Each folder holding `.rego` files
/// is a pack named by its path below `dir` (the folder's own name for files directly in it).
/// `shown` is how `dir` is named in messages.
pub fn folder(dir: &Path, shown: &str, max_bytes: u64) -> Result<Vec<RuleFile>, String> {
    let meta = std::fs::metadata(dir).map_err(|e| format!("{shown}: cannot read rules: {e}"))?;
    let base_name = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "rules".to_string());
    let mut out = Vec::new();
    if meta.is_file() {
        let pack = dir
            .parent()
            .and_then(|p| p.file_name())
            .map_or(base_name.clone(), |n| n.to_string_lossy().to_string());
        out.push(read_file(dir, shown.to_string(), pack, max_bytes)?);
        return Ok(out);
    }
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|e| format!("{shown}: cannot list rules: {e}"))?;
        if !entry.file_type().is_file() || entry.path().extension().is_none_or(|e| e != "rego") {
            continue;
        }
        let relative = entry.path().strip_prefix(dir).unwrap_or(entry.path());
        let pack = relative
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or(base_name.clone(), |p| {
                p.to_string_lossy().replace('\\', "/")
            });
        let path = format!(
            "{}/{}",
            shown.trim_end_matches('/'),
            relative.to_string_lossy().replace('\\', "/")
        );
        out.push(read_file(entry.path(), path, pack, max_bytes)?);
    }
    if out.is_empty() {
        return Err(format!("{shown}: no .rego files"));
    }
    Ok(out)
}

fn read_file(path: &Path, shown: String, pack: String, max_bytes: u64) -> Result<RuleFile, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("{shown}: {e}"))?
        .len();
    if size > max_bytes {
        return Err(format!(
            "{shown}: file is {size} bytes, over the limit of {max_bytes} bytes (raise limits.max_file_size to read it)"
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
    Ok(RuleFile {
        pack,
        test: is_test(&shown),
        path: shown,
        text,
        builtin: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_packs_are_embedded() {
        let packs = builtin_packs();
        for name in [
            "pod-security-baseline",
            "pod-security-restricted",
            "aws-ec2",
        ] {
            assert!(packs.contains(&name.to_string()), "{packs:?}");
        }
        let files = builtin();
        assert!(files.iter().any(|f| f.pack == LIB && !f.test));
        assert!(files.iter().any(|f| f.test));
        assert!(files.iter().all(|f| f.path.starts_with("builtin:")));
    }

    #[test]
    fn a_folder_of_packs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("team/net")).unwrap();
        std::fs::write(dir.path().join("top.rego"), "package top\n").unwrap();
        std::fs::write(dir.path().join("team/net/a.rego"), "package a\n").unwrap();
        std::fs::write(dir.path().join("team/net/a_test.rego"), "package a\n").unwrap();
        std::fs::write(dir.path().join("team/notes.md"), "").unwrap();
        let files = folder(dir.path(), "./policies", 1 << 20).unwrap();
        let summary: Vec<(&str, &str, bool)> = files
            .iter()
            .map(|f| (f.pack.as_str(), f.path.as_str(), f.test))
            .collect();
        let base = dir
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        assert_eq!(
            summary,
            vec![
                ("team/net", "./policies/team/net/a.rego", false),
                ("team/net", "./policies/team/net/a_test.rego", true),
                (base.as_str(), "./policies/top.rego", false),
            ]
        );
        assert!(folder(&dir.path().join("nope"), "nope", 1).is_err());
        let err = folder(dir.path(), "p", 3).unwrap_err();
        assert!(err.contains("over the limit"), "{err}");
    }
}
