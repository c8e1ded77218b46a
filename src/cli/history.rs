//! The commands over the history: `history`, `report` and `verify`.

use std::io::Write;

use super::*;

pub(super) fn open_store(args: &DataArgs) -> Result<crate::store::Store, u8> {
    if !args.data_dir.join(crate::store::FILE).exists() {
        eprintln!(
            "error: no scan history in {} (scans are kept with `scan --data-dir` or `serve`)",
            args.data_dir.display()
        );
        return Err(2);
    }
    crate::store::Store::open(&args.data_dir).map_err(|err| {
        eprintln!("error: {err}");
        2
    })
}

/// `gitdrift history`.
pub(super) fn history(args: HistoryArgs) -> u8 {
    let store = match open_store(&args.data) {
        Ok(store) => store,
        Err(code) => return code,
    };
    match store.list(args.limit) {
        Ok(scans) => {
            for s in scans {
                println!(
                    "{:>6}  {}  {:<20} {} resources: {} drifted, {} missing, {} unmanaged · {} failing findings · {} errors · {} bytes · sha256 {}",
                    s.id,
                    s.started_at.format("%Y-%m-%dT%H:%M:%SZ"),
                    s.targets.join(","),
                    s.summary.resources,
                    s.summary.drifted,
                    s.summary.missing,
                    s.summary.unmanaged,
                    s.failing_findings,
                    s.summary.errors,
                    s.bytes,
                    s.sha256.chars().take(16).collect::<String>()
                );
            }
            0
        }
        Err(err) => {
            eprintln!("error: {err}");
            2
        }
    }
}

/// `gitdrift report`: a stored scan in any format.
pub(super) fn stored_report(args: ReportArgs) -> u8 {
    let store = match open_store(&args.data) {
        Ok(store) => store,
        Err(code) => return code,
    };
    let id = match args
        .scan
        .map(Ok)
        .unwrap_or_else(|| store.latest().map(|id| id.unwrap_or(0)))
    {
        Ok(id) => id,
        Err(err) => {
            eprintln!("error: {err}");
            return 2;
        }
    };
    let report = match store.get(id) {
        Ok(Some((_, report))) => report,
        Ok(None) => {
            eprintln!("error: no scan {id} in {}", args.data.data_dir.display());
            return 2;
        }
        Err(err) => {
            eprintln!("error: {err}");
            return 2;
        }
    };
    let plain = report::render_plain(&report, args.format, TextOptions::default());
    let written = match &args.output {
        Some(path) => crate::files::write_atomically(path, &plain, crate::files::Access::Umask),
        None => std::io::stdout().lock().write_all(plain.as_bytes()),
    };
    match written {
        Ok(()) => 0,
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(err) => {
            eprintln!("error: cannot write the report: {err}");
            2
        }
    }
}

/// `gitdrift verify`: 0 when the chain holds (and ends at the expected head), 1 at the first
/// broken link or a head that is not the expected one.
pub(super) fn verify(args: VerifyArgs) -> u8 {
    let store = match open_store(&args.data) {
        Ok(store) => store,
        Err(code) => return code,
    };
    let checked = store.verify().and_then(|chain| Ok((chain, store.head()?)));
    match checked {
        Ok((Ok(count), head)) => {
            if let Some(expected) = &args.expect_head {
                let expected = expected.trim().to_ascii_lowercase();
                let matches = expected.len() >= 12
                    && head
                        .as_ref()
                        .is_some_and(|(_, sha)| sha.starts_with(&expected));
                if !matches {
                    let found = head.map_or("an empty history".to_string(), |(id, sha)| {
                        format!("scan {id} with hash {sha}")
                    });
                    println!(
                        "history does not end at the expected head {expected}: it ends at {found} (scans were removed from the end, or the history is another)"
                    );
                    return 1;
                }
            }
            println!(
                "history verifies: {count} scan{} in {}{}",
                if count == 1 { "" } else { "s" },
                store.path().display(),
                head.map(|(id, sha)| format!(", head scan {id} {sha}"))
                    .unwrap_or_default()
            );
            0
        }
        Ok((Err(broken), _)) => {
            println!(
                "history is broken at scan {}: {}",
                broken.id, broken.message
            );
            1
        }
        Err(err) => {
            eprintln!("error: {err}");
            2
        }
    }
}
