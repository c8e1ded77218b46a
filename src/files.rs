//! The files gitdrift writes for its users (reports, snapshots, patches): written whole or not at
//! all, so that a reader never sees half of one.

use std::io::Write;
use std::path::Path;

/// Writes a rendered report to a file atomically: a temporary file in the same folder, renamed
/// over the target, so a reader never sees half a report. A target that exists and is not a
/// regular file (`/dev/null`, a pipe) is written to directly: renaming over it would replace it.
pub fn write_atomically(path: &Path, content: &str) -> std::io::Result<()> {
    write_atomically_with(path, |out| out.write_all(content.as_bytes()))
}

/// Like [`write_atomically`], with the content written by `write` (a report serialized straight
/// to the file, never held whole in memory).
pub fn write_atomically_with(
    path: &Path,
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
    // Temporary files are private (0600); a report is an ordinary file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    let mut out = std::io::BufWriter::new(file);
    write(&mut out)?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}
