//! Rebuilds when the built-in rule packs change (they are embedded in the binary), and records
//! the commit the binary is built from and that commit's date, for `gitdrift version --verbose`
//! and the build-info metric. The commit's date, not the clock's, so that one commit always
//! builds the same binary.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn main() {
    println!("cargo:rerun-if-changed=rules/compliance");
    println!("cargo:rerun-if-env-changed=GITDRIFT_COMMIT");
    // Rebuilt when HEAD moves: HEAD itself, and the branch file it names.
    if let Some(head) = git(&["rev-parse", "--git-path", "HEAD"]) {
        println!("cargo:rerun-if-changed={head}");
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"])
        && let Some(file) = git(&["rev-parse", "--git-path", &branch])
    {
        println!("cargo:rerun-if-changed={file}");
    }
    let commit = std::env::var("GITDRIFT_COMMIT")
        .ok()
        .or_else(|| git(&["rev-parse", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_string());
    let date =
        git(&["show", "-s", "--format=%cI", "HEAD"]).unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=GITDRIFT_COMMIT={commit}");
    println!("cargo:rustc-env=GITDRIFT_BUILD_DATE={date}");
}
