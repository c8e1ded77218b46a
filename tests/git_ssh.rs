//! Remote sources over SSH against a real OpenSSH server on 127.0.0.1: the configured key is the
//! only one offered, the configured known_hosts file is checked strictly, and nothing prompts.

mod support;

use std::path::Path;

use support::{SshServer, config_map, gitdrift};

fn config(dir: &Path, url: &str, key: &Path, known_hosts: &Path, live: &Path) {
    std::fs::write(
        dir.join("gitdrift.yaml"),
        format!(
            "sources:\n  - name: ssh-shop\n    repo: {url}\n    target: t\n    auth:\n      ssh_key_file: {}\n      ssh_known_hosts_file: {}\ntargets:\n  - name: t\n    snapshot: {}\n",
            key.display(),
            known_hosts.display(),
            live.display()
        ),
    )
    .unwrap();
}

#[test]
fn ssh_key_authentication_clones_and_a_wrong_key_or_host_is_refused() {
    let server = SshServer::start();
    let (repo, commit) = support::settings_repo("blue");
    let bare = server.dir.path().join("shop.git");
    support::git(
        server.dir.path(),
        &[
            "clone",
            "-q",
            "--bare",
            &repo.path().display().to_string(),
            "shop.git",
        ],
    );
    let live = tempfile::tempdir().unwrap();
    std::fs::write(
        live.path().join("cm.yaml"),
        config_map("settings", "shop", &[("mode", "blue")]),
    )
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let url = server.url(&bare);
    config(
        work.path(),
        &url,
        &server.client_key,
        &server.known_hosts,
        live.path(),
    );
    let run = gitdrift(
        work.path(),
        &["scan", "--format", "json"],
        &[("HOME", "/nonexistent")],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.json()["scan"]["sources"][0]["commit"], commit);

    // A key the server does not know.
    let other = work.path().join("other_key");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .status()
        .unwrap();
    assert!(status.success());
    let cache = tempfile::tempdir().unwrap();
    let cache_arg = cache.path().display().to_string();
    config(work.path(), &url, &other, &server.known_hosts, live.path());
    let run = gitdrift(
        work.path(),
        &["scan", "--format", "json", "--cache-dir", &cache_arg],
        &[("HOME", "/nonexistent")],
    );
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert_eq!(run.json()["problems"][0]["source"], "ssh-shop");

    // A host key that does not match known_hosts: refused, never prompted.
    let wrong_hosts = work.path().join("known_hosts");
    let other_pub = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    std::fs::write(
        &wrong_hosts,
        format!("[127.0.0.1]:{} {other_pub}", server.port),
    )
    .unwrap();
    config(
        work.path(),
        &url,
        &server.client_key,
        &wrong_hosts,
        live.path(),
    );
    let run = gitdrift(
        work.path(),
        &["scan", "--format", "json", "--cache-dir", &cache_arg],
        &[("HOME", "/nonexistent")],
    );
    assert_eq!(run.code, 2, "{}", run.stdout);
    let message = run.json()["problems"][0]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.starts_with("cannot fetch ssh://"), "{message}");
}
