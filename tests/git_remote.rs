//! Remote sources against real git servers on 127.0.0.1: `git daemon` (git://), and
//! `git http-backend` behind basic authentication (smart HTTP with a token). Clones are cached
//! and fetched again on later scans; wrong refs and unreachable remotes are clear errors.

mod support;

use std::path::Path;

use support::{GitDaemon, config_map, gitdrift};

fn write_config(dir: &Path, source_extra: &str, repo: &str, live: &Path, extra: &str) {
    std::fs::write(
        dir.join("gitdrift.yaml"),
        format!(
            "sources:\n  - name: remote-shop\n    repo: {repo}\n    target: t\n{source_extra}targets:\n  - name: t\n    snapshot: {}\n{extra}",
            live.display()
        ),
    )
    .unwrap();
}

fn live_with(mode: &str) -> tempfile::TempDir {
    let live = tempfile::tempdir().unwrap();
    std::fs::write(
        live.path().join("cm.yaml"),
        config_map("settings", "shop", &[("mode", mode)]),
    )
    .unwrap();
    live
}

#[test]
fn git_daemon_clone_is_cached_and_later_scans_fetch_new_commits() {
    let daemon = GitDaemon::start();
    let (repo, first) = support::settings_repo("blue");
    let url = daemon.publish(&repo, "shop.git");
    let live = live_with("blue");
    let work = tempfile::tempdir().unwrap();
    write_config(work.path(), "", &url, live.path(), "");

    let run = gitdrift(work.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["scan"]["sources"][0]["commit"], first);
    assert_eq!(report["scan"]["sources"][0]["repo"], url);
    let cached: Vec<_> = std::fs::read_dir(work.path().join(".cache/repos"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".git"))
        .collect();
    assert_eq!(cached.len(), 1, "{cached:?}");
    assert!(cached[0].starts_with("shop-"), "{cached:?}");
    assert!(
        work.path()
            .join(".cache/repos")
            .join(&cached[0])
            .join("HEAD")
            .exists(),
        "a bare clone"
    );

    repo.write(
        "cm.yaml",
        &config_map("settings", "shop", &[("mode", "green")]),
    );
    let second = repo.commit("green");
    daemon.push(&repo, "shop.git");
    let run = gitdrift(work.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 1, "the new commit drifts: {}", run.stderr);
    let report = run.json();
    assert_eq!(report["scan"]["sources"][0]["commit"], second);
    assert_eq!(report["resources"][0]["drifts"][0]["desired"], "green");
}

#[test]
fn the_default_ref_is_the_remote_head_and_tags_and_branches_resolve() {
    let daemon = GitDaemon::start();
    let (repo, blue) = support::settings_repo("blue");
    support::git(repo.path(), &["tag", "v1.0.0"]);
    support::git(repo.path(), &["checkout", "-q", "-b", "trunk"]);
    repo.write(
        "cm.yaml",
        &config_map("settings", "shop", &[("mode", "trunk")]),
    );
    let trunk = repo.commit("trunk");
    let url = daemon.publish(&repo, "shop.git");
    // The published repository's HEAD names trunk (the branch checked out when cloned).
    let live = live_with("blue");
    let work = tempfile::tempdir().unwrap();
    for (extra, commit) in [
        ("", &trunk),
        ("    ref: main\n", &blue),
        ("    ref: v1.0.0\n", &blue),
        ("    ref: refs/heads/trunk\n", &trunk),
    ] {
        write_config(work.path(), extra, &url, live.path(), "");
        let run = gitdrift(work.path(), &["scan", "--format", "json"], &[]);
        assert!(run.code == 0 || run.code == 1, "{extra}: {}", run.stderr);
        assert_eq!(
            run.json()["scan"]["sources"][0]["commit"],
            *commit,
            "ref {extra:?}"
        );
    }
}

#[test]
fn a_wrong_ref_is_an_error_naming_the_source() {
    let daemon = GitDaemon::start();
    let (repo, _) = support::settings_repo("blue");
    let url = daemon.publish(&repo, "shop.git");
    let live = live_with("blue");
    let work = tempfile::tempdir().unwrap();
    write_config(work.path(), "    ref: release-9\n", &url, live.path(), "");
    let run = gitdrift(work.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 2);
    let report = run.json();
    let problem = &report["problems"][0];
    assert_eq!(problem["source"], "remote-shop");
    assert_eq!(problem["severity"], "error");
    assert_eq!(problem["code"], "git.ref_not_found");
    assert!(
        problem["message"]
            .as_str()
            .unwrap()
            .contains("ref `release-9` not found"),
        "{problem}"
    );
    assert_eq!(
        report["scan"]["sources"][0]["commit"],
        serde_json::Value::Null
    );
    assert_eq!(
        report["summary"]["unmanaged"], 0,
        "nothing is called unmanaged when git could not be read"
    );
}

#[test]
fn an_unreachable_remote_is_an_error_and_a_silent_one_times_out() {
    let live = live_with("blue");
    let work = tempfile::tempdir().unwrap();
    // Nothing listens on this port.
    let port = support::free_port();
    write_config(
        work.path(),
        "",
        &format!("git://127.0.0.1:{port}/shop.git"),
        live.path(),
        "",
    );
    let started = std::time::Instant::now();
    let run = gitdrift(work.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 2);
    let report = run.json();
    let problem = &report["problems"][0];
    assert_eq!(problem["source"], "remote-shop");
    assert!(
        problem["message"]
            .as_str()
            .unwrap()
            .starts_with(&format!("cannot fetch git://127.0.0.1:{port}/shop.git")),
        "{problem}"
    );
    assert!(started.elapsed().as_secs() < 30);

    // A server that accepts and never answers: the fetch timeout ends the wait.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    write_config(
        work.path(),
        "",
        &format!("git://127.0.0.1:{port}/shop.git"),
        live.path(),
        "git:\n  fetch_timeout: 2s\n",
    );
    let started = std::time::Instant::now();
    let run = gitdrift(work.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 2);
    let message = run.json()["problems"][0]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("took longer than 2s"), "{message}");
    assert!(started.elapsed().as_secs() < 20, "the scan did not hang");
    drop(silent);
}

#[test]
fn https_token_auth_works_and_the_token_never_shows() {
    let (root, commit) = support::served_repo();
    let token = "tok-9f8e7d6c5b4a-http-secret";
    let server = support::http_git::HttpGit::start_tls(root.path(), "x-access-token", token);
    let ca = server.ca_file(root.path());
    let live = live_with("blue");
    let work = tempfile::tempdir().unwrap();
    write_config(
        work.path(),
        "    auth:\n      token_env: SHOP_GIT_TOKEN\n",
        &server.url("shop.git"),
        live.path(),
        "",
    );
    // Without trusting the test CA, TLS verification fails: certificates are checked.
    let run = gitdrift(
        work.path(),
        &["scan", "--format", "json"],
        &[("SHOP_GIT_TOKEN", token), ("SSL_CERT_FILE", "/dev/null")],
    );
    assert_eq!(run.code, 2, "{}", run.stdout);
    let run = gitdrift(
        work.path(),
        &["-vvv", "scan", "--format", "json"],
        &[("SHOP_GIT_TOKEN", token), ("SSL_CERT_FILE", &ca)],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["scan"]["sources"][0]["commit"], commit);
    assert!(!run.all().contains(token), "the token leaked");
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("x-access-token:{token}"),
    );
    assert!(
        !run.all().contains(&basic),
        "the authorization header leaked"
    );
    assert!(!run.all().contains("TRACE"), "libraries stay quiet at -vvv");
    let requests = server.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.status == 200 && r.authorization.is_some())
    );

    // A wrong token: authentication fails, the error names the source, no token is shown.
    let cache = tempfile::tempdir().unwrap();
    let wrong = "tok-wrong-0000-1111-2222";
    let run = gitdrift(
        work.path(),
        &[
            "-vvv",
            "scan",
            "--format",
            "json",
            "--cache-dir",
            &cache.path().display().to_string(),
        ],
        &[("SHOP_GIT_TOKEN", wrong), ("SSL_CERT_FILE", &ca)],
    );
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert_eq!(run.json()["problems"][0]["source"], "remote-shop");
    assert!(
        !run.all().contains(wrong),
        "the wrong token leaked:\n{}",
        run.all()
    );
    assert!(!run.all().contains(token));

    // The token from a file works the same; a missing variable is a clear error.
    let token_file = work.path().join("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    write_config(
        work.path(),
        &format!("    auth:\n      token_file: {}\n", token_file.display()),
        &server.url("shop.git"),
        live.path(),
        "",
    );
    let run = gitdrift(work.path(), &["scan"], &[("SSL_CERT_FILE", &ca)]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    write_config(
        work.path(),
        "    auth:\n      token_env: NOT_SET_ANYWHERE\n",
        &server.url("shop.git"),
        live.path(),
        "",
    );
    let run = gitdrift(work.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.json()["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("environment variable NOT_SET_ANYWHERE is not set")
    );
}

#[test]
fn credentials_in_a_url_are_masked_everywhere() {
    let (root, _) = support::served_repo();
    let password = "url-embedded-pass-4455";
    let server = support::http_git::HttpGit::start_tls(root.path(), "bot", password);
    let ca = server.ca_file(root.path());
    let url = format!("https://bot:{password}@127.0.0.1:{}/shop.git", server.port);
    let live = live_with("blue");
    let work = tempfile::tempdir().unwrap();
    write_config(work.path(), "", &url, live.path(), "");
    let run = gitdrift(
        work.path(),
        &["-vvv", "scan", "--format", "json"],
        &[("SSL_CERT_FILE", &ca)],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.all().contains(password), "{}", run.all());
    assert_eq!(
        run.json()["scan"]["sources"][0]["repo"],
        format!("https://bot:***@127.0.0.1:{}/shop.git", server.port)
    );
}

#[test]
fn credentials_are_never_sent_over_plain_http() {
    let (root, _) = support::served_repo();
    let token = "tok-plain-http-never-sent";
    let server = support::http_git::HttpGit::start(root.path(), "x-access-token", token);
    let live = live_with("blue");
    let work = tempfile::tempdir().unwrap();
    write_config(
        work.path(),
        "    auth:\n      token_env: SHOP_GIT_TOKEN\n",
        &server.url("shop.git"),
        live.path(),
        "",
    );
    let run = gitdrift(work.path(), &["scan"], &[("SHOP_GIT_TOKEN", token)]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("credentials are only sent over https://"),
        "{}",
        run.stderr
    );
    assert!(server.requests().is_empty(), "nothing was sent at all");
}

#[test]
fn a_branch_deleted_upstream_is_no_longer_scanned() {
    let daemon = GitDaemon::start();
    let (repo, _) = support::settings_repo("blue");
    support::git(repo.path(), &["branch", "release-1"]);
    let url = daemon.publish(&repo, "shop.git");
    let live = live_with("blue");
    let work = tempfile::tempdir().unwrap();
    write_config(work.path(), "    ref: release-1\n", &url, live.path(), "");
    let run = gitdrift(work.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    support::git(
        &daemon.root.path().join("shop.git"),
        &["branch", "-D", "release-1"],
    );
    let run = gitdrift(work.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 2, "the cached branch must not be used");
    assert!(
        run.json()["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("ref `release-1` not found"),
        "{}",
        run.stdout
    );
}

#[test]
fn file_urls_are_cloned_like_any_remote() {
    let (repo, commit) = support::settings_repo("blue");
    let live = live_with("blue");
    let work = tempfile::tempdir().unwrap();
    write_config(
        work.path(),
        "",
        &format!("file://{}", repo.path().display()),
        live.path(),
        "",
    );
    let run = gitdrift(work.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["scan"]["sources"][0]["commit"], commit);
}

/// A clone of a repository of several tens of megabytes shows its progress on a terminal (a
/// pseudo-terminal made by `script`): the transfer's objects and bytes as they arrive, then the
/// judgement; the same scan with standard error on a pipe prints none of it, and standard output
/// holds the report alone either way.
#[test]
fn a_large_clone_shows_progress_on_a_terminal_and_none_on_a_pipe() {
    use std::io::Read;
    let daemon = GitDaemon::start();
    let (repo, _) = support::settings_repo("blue");
    // 32 MiB that do not compress: the transfer takes a while.
    let mut random = std::fs::File::open("/dev/urandom").unwrap();
    for i in 0..32 {
        let mut blob = vec![0u8; 1 << 20];
        random.read_exact(&mut blob).unwrap();
        std::fs::create_dir_all(repo.path().join("assets")).unwrap();
        std::fs::write(repo.path().join(format!("assets/blob-{i}.bin")), blob).unwrap();
    }
    repo.commit("assets");
    let url = daemon.publish(&repo, "shop.git");
    let live = live_with("blue");

    // On a pipe: no progress at all.
    let piped = tempfile::tempdir().unwrap();
    write_config(piped.path(), "", &url, live.path(), "");
    let run = gitdrift(piped.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let _ = run.json();
    assert!(
        !run.stderr.contains("fetch ") && !run.stderr.contains(" objects ["),
        "no progress on a pipe: {}",
        run.stderr
    );

    // On a terminal: the transfer's progress, drawn and cleared.
    let tty = tempfile::tempdir().unwrap();
    write_config(tty.path(), "", &url, live.path(), "");
    let command = format!(
        "{} scan --format json > report.json",
        env!("CARGO_BIN_EXE_gitdrift")
    );
    let output = std::process::Command::new("script")
        .args(["-qefc", &command, "/dev/null"])
        .current_dir(tty.path())
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR")
        .output()
        .expect("script (util-linux) runs a command on a pseudo-terminal");
    let terminal = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{terminal}");
    assert!(terminal.contains(&format!("fetch {url}")), "{terminal}");
    assert!(
        terminal.contains(" objects [")
            && (terminal.contains("indexing") || terminal.contains("Resolving")),
        "the transfer's objects as they arrive: {terminal}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tty.path().join("report.json")).unwrap())
            .expect("standard output holds the report alone");
    assert_eq!(report["summary"]["in_sync"], 1);

    // --quiet: none, even on a terminal.
    let quiet = std::process::Command::new("script")
        .args([
            "-qefc",
            &command.replace(" scan ", " --quiet scan "),
            "/dev/null",
        ])
        .current_dir(tty.path())
        .env("TERM", "xterm-256color")
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&quiet.stdout).contains(" objects ["),
        "{}",
        String::from_utf8_lossy(&quiet.stdout)
    );
}
