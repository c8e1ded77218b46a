//! The files gitdrift writes for its users (reports, snapshots, patches): written whole or not at
//! all, so that a reader never sees half of one.

use std::io::Write;
use std::path::Path;

/// Who may read a file gitdrift writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A report or patch: an ordinary file, 0666 less the process's umask (as `>` in a shell).
    Umask,
    /// A snapshot of live state or the history: the owner only (0600), whatever the umask.
    Private,
}

impl Access {
    /// The permission bits a new file gets.
    pub fn mode(self) -> u32 {
        match self {
            Access::Umask => 0o666 & !umask(),
            Access::Private => 0o600,
        }
    }
}

/// The process's umask, read from `/proc/self/status` (setting it to read it back would race
/// with other threads creating files); 022 where that is not available.
pub fn umask() -> u32 {
    static UMASK: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *UMASK.get_or_init(|| {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix("Umask:"))
                    .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
            })
            .unwrap_or(0o022)
    })
}

/// Creates a file that does not exist yet with the given access (an existing file keeps its
/// permissions): the history database before SQLite opens it.
pub fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(Access::Private.mode());
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Writes a rendered report to a file atomically: a temporary file in the same folder, renamed
/// over the target, so a reader never sees half a report. A target that exists and is not a
/// regular file (`/dev/null`, a pipe) is written to directly: renaming over it would replace it.
pub fn write_atomically(path: &Path, content: &str, access: Access) -> std::io::Result<()> {
    write_atomically_with(path, access, |out| out.write_all(content.as_bytes()))
}

/// Like [`write_atomically`], with the content written by `write` (a report serialized straight
/// to the file, never held whole in memory).
pub fn write_atomically_with(
    path: &Path,
    access: Access,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    if let Ok(meta) = std::fs::metadata(path)
        && !meta.is_file()
        && !meta.is_dir()
    {
        let target = std::fs::OpenOptions::new().write(true).open(path)?;
        let mut out = std::io::BufWriter::new(target);
        write(&mut out)?;
        return out.flush();
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file = tempfile::NamedTempFile::new_in(dir)?;
    // Temporary files are created 0600; a report becomes an ordinary file.
    #[cfg(unix)]
    if access != Access::Private {
        use std::os::unix::fs::PermissionsExt;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(access.mode()))?;
    }
    let mut out = std::io::BufWriter::new(file);
    write(&mut out)?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The stems of the `.yaml` files in a folder of the crate: test corpora check that each file is
/// registered as a test.
#[cfg(test)]
pub(crate) fn yaml_stems(dir: &str) -> std::collections::BTreeSet<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".yaml")
                .map(str::to_string)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn reports_honour_the_umask_and_private_files_are_the_owners() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("report.json");
        write_atomically(&report, "{}", Access::Umask).unwrap();
        assert_eq!(mode(&report), 0o666 & !umask());
        let snapshot = dir.path().join("snapshot.json");
        write_atomically(&snapshot, "{}", Access::Private).unwrap();
        assert_eq!(mode(&snapshot), 0o600);
        let db = dir.path().join("history.db");
        create_private(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        // The umask is the process's own, as the kernel reports it.
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        assert!(
            status.contains(&format!("Umask:\t{:04o}", umask())),
            "{status}"
        );
    }
}
