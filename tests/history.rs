//! The scan history end to end: scans kept with `--data-dir`, listed, rendered again in any
//! format, verified; a changed report is named by `verify`; scans killed with SIGKILL at random
//! moments leave a history that still verifies and reads back.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::{Repo, gitdrift};

fn demo() -> Repo {
    support::demo_repo("")
}

#[test]
fn scans_are_kept_listed_rendered_and_verified() {
    let repo = demo();
    let data = repo.path().join("data");
    let data = data.to_str().unwrap();
    for _ in 0..2 {
        let run = gitdrift(
            repo.path(),
            &["scan", "--format", "json", "--data-dir", data],
            &[],
        );
        assert_eq!(run.code, 1, "{}", run.stderr);
    }
    // The history is the owner's alone, whatever the umask (the test runner's is 022).
    {
        use std::os::unix::fs::PermissionsExt;
        for file in ["history.sqlite3", "history.sqlite3-wal"] {
            let path = repo.path().join("data").join(file);
            if let Ok(meta) = std::fs::metadata(&path) {
                assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{file}");
            } else {
                assert_ne!(file, "history.sqlite3", "the database exists");
            }
        }
    }
    let history = gitdrift(repo.path(), &["history", "--data-dir", data], &[]);
    assert_eq!(history.code, 0, "{}", history.stderr);
    let lines: Vec<&str> = history.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", history.stdout);
    assert!(
        lines[0].trim_start().starts_with("2 "),
        "newest first: {}",
        lines[0]
    );
    assert!(lines[0].contains("demo") && lines[0].contains("3 drifted"));

    let stored = gitdrift(
        repo.path(),
        &[
            "report",
            "--data-dir",
            data,
            "--scan",
            "1",
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(stored.code, 0, "{}", stored.stderr);
    let report = stored.json();
    assert_eq!(report["summary"]["drifted"], 3);
    let html = gitdrift(repo.path(), &["report", "--data-dir", data], &[]);
    assert!(
        html.stdout.starts_with("<!DOCTYPE html>"),
        "the newest scan, as HTML by default"
    );
    for format in ["markdown", "sarif", "junit", "csv", "text"] {
        let run = gitdrift(
            repo.path(),
            &["report", "--data-dir", data, "--format", format],
            &[],
        );
        assert_eq!(run.code, 0, "{format}: {}", run.stderr);
        assert!(run.stdout.contains("web"), "{format}");
    }
    let missing = gitdrift(
        repo.path(),
        &["report", "--data-dir", data, "--scan", "9"],
        &[],
    );
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("no scan 9"));

    let verify = gitdrift(repo.path(), &["verify", "--data-dir", data], &[]);
    assert_eq!(verify.code, 0, "{}", verify.stdout);
    assert!(verify.stdout.contains("history verifies: 2 scans"));

    // Someone edits the first stored report: verify names it.
    let db = rusqlite::Connection::open(repo.path().join("data/history.sqlite3")).unwrap();
    let stored: Vec<u8> = db
        .query_row("SELECT report FROM scans WHERE id = 1", [], |r| r.get(0))
        .unwrap();
    let mut json = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&stored[..]), &mut json)
        .expect("stored reports are gzip-compressed JSON");
    assert!(json.contains("\"drifted\":3"));
    let edited = json.replace("\"drifted\":3", "\"drifted\":0");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut encoder, edited.as_bytes()).unwrap();
    db.execute(
        "UPDATE scans SET report = ?1 WHERE id = 1",
        [encoder.finish().unwrap()],
    )
    .unwrap();
    drop(db);
    let verify = gitdrift(repo.path(), &["verify", "--data-dir", data], &[]);
    assert_eq!(verify.code, 1);
    assert!(
        verify.stdout.contains("broken at scan 1") && verify.stdout.contains("was changed"),
        "{}",
        verify.stdout
    );
    let nowhere = gitdrift(repo.path(), &["verify", "--data-dir", "nowhere"], &[]);
    assert_eq!(nowhere.code, 2);
    assert!(nowhere.stderr.contains("no scan history"));
}

#[test]
fn scans_killed_at_any_moment_leave_a_history_that_verifies() {
    let repo = demo();
    let data = repo.path().join("data");
    let mut completed = 0;
    // Kill scans at moments spread over their run, writes included.
    for round in 0..16u64 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gitdrift"))
            .args([
                "scan",
                "--format",
                "json",
                "--output",
                "/dev/null",
                "--data-dir",
            ])
            .arg(&data)
            .current_dir(repo.path())
            .env("GITDRIFT_CACHE_DIR", repo.path().join(".cache"))
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(10 + round * 9));
        // SAFETY: signals our own child.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGKILL);
        }
        let status = child.wait().unwrap();
        if status.code().is_some() {
            completed += 1;
        }
    }
    assert!(completed < 16, "some scans were killed");
    // And one that finishes, after the crashes.
    let run = gitdrift(
        repo.path(),
        &[
            "scan",
            "--format",
            "json",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let verify = gitdrift(
        repo.path(),
        &["verify", "--data-dir", data.to_str().unwrap()],
        &[],
    );
    assert_eq!(verify.code, 0, "{}", verify.stdout);
    let history = gitdrift(
        repo.path(),
        &[
            "history",
            "--data-dir",
            data.to_str().unwrap(),
            "--limit",
            "100",
        ],
        &[],
    );
    let kept = history.stdout.lines().count();
    assert!(
        kept > completed,
        "every completed scan is kept, and the last one"
    );
    for line in history.stdout.lines() {
        let id = line.split_whitespace().next().unwrap();
        let stored = gitdrift(
            repo.path(),
            &[
                "report",
                "--data-dir",
                data.to_str().unwrap(),
                "--scan",
                id,
                "--format",
                "json",
            ],
            &[],
        );
        assert_eq!(
            stored.json()["summary"]["drifted"],
            3,
            "scan {id} reads back whole"
        );
    }
}

#[test]
fn removing_the_newest_scans_shows_against_the_head_kept_outside() {
    let repo = demo();
    let data = repo.path().join("data");
    let data = data.to_str().unwrap();
    for _ in 0..3 {
        let run = gitdrift(
            repo.path(),
            &["-v", "scan", "--format", "json", "--data-dir", data],
            &[],
        );
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(
            run.stderr.contains("history head"),
            "each stored scan logs the chain's head: {}",
            run.stderr
        );
    }
    let verify = gitdrift(repo.path(), &["verify", "--data-dir", data], &[]);
    assert_eq!(verify.code, 0, "{}", verify.stdout);
    let head = verify
        .stdout
        .split("head scan 3 ")
        .nth(1)
        .expect("verify names the head")
        .trim()
        .to_string();
    assert_eq!(head.len(), 64, "{head}");
    let expect = ["verify", "--data-dir", data, "--expect-head", &head[..16]];
    assert_eq!(gitdrift(repo.path(), &expect, &[]).code, 0);

    // Someone deletes the newest scan: the rest of the chain still holds, but not its head.
    let db = rusqlite::Connection::open(repo.path().join("data/history.sqlite3")).unwrap();
    db.execute("DELETE FROM scans WHERE id = 3", []).unwrap();
    drop(db);
    assert_eq!(
        gitdrift(repo.path(), &["verify", "--data-dir", data], &[]).code,
        0,
        "the chain alone cannot tell"
    );
    let truncated = gitdrift(repo.path(), &expect, &[]);
    assert_eq!(truncated.code, 1, "{}", truncated.stdout);
    assert!(
        truncated
            .stdout
            .contains("does not end at the expected head")
            && truncated.stdout.contains("it ends at scan 2"),
        "{}",
        truncated.stdout
    );
}
