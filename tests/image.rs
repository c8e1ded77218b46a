//! The container image: `scripts/image` builds it offline with buildah, and inside it — run the
//! way a pod runs it, as uid 65532 with the root file system read-only and only the data, cache
//! and /tmp volumes writable — `gitdrift version` names the same version as the binary and the
//! image's labels, the bundled demo's JSON report is the one the binary gives outside the image,
//! an HTTPS git source is trusted through the image's CA bundle (and refused without its CA),
//! and a Helm source without a helm binary fails naming the missing tool. The image stays under
//! 120 MB. The Containerfile for release pipelines shares its runtime section with the offline
//! build, and the chart's version follows the crate's.

mod support;

use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use support::project_root;

const IMAGE: &str = "localhost/gitdrift:test";
const NONROOT: u32 = 65532;
/// The image must stay under this (uncompressed, every layer).
const MAX_IMAGE_BYTES: u64 = 120 * 1000 * 1000;

fn buildah(args: &[&str]) -> Output {
    Command::new("buildah")
        .arg("--storage-driver")
        .arg("vfs")
        .args(args)
        .output()
        .expect("buildah (scripts/test and scripts/image install it)")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Builds the image with `scripts/image` (the release binary, in the target folder the tests
/// were built in); returns its size in bytes.
fn build_image() -> u64 {
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    // Cargo's own variables, set for this test, would make the release build look dirty
    // (build scripts watch them): only what finds the toolchain and the target folder passes.
    let mut command = Command::new(project_root().join("scripts/image"));
    command.env_clear();
    for name in [
        "PATH",
        "HOME",
        "CARGO_HOME",
        "RUSTUP_HOME",
        "RUSTUP_TOOLCHAIN",
        "TMPDIR",
    ] {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    let output = command
        .args(["--tag", IMAGE])
        .env("CARGO_TARGET_DIR", &target_dir)
        .current_dir(project_root())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "scripts/image failed:\n{}",
        text(&output)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let (name, size) = last
        .split_once(' ')
        .unwrap_or_else(|| panic!("scripts/image's last line: {last:?}"));
    assert_eq!(name, IMAGE);
    size.parse()
        .unwrap_or_else(|_| panic!("a size in bytes: {last}"))
}

/// A working container of the image, its root file system mounted on the host, removed on drop.
struct Container {
    id: String,
    root: PathBuf,
    config: Value,
}

impl Container {
    fn new() -> Container {
        let from = buildah(&["from", "--quiet", "--pull-never", IMAGE]);
        assert!(from.status.success(), "buildah from: {}", text(&from));
        let id = String::from_utf8_lossy(&from.stdout).trim().to_string();
        let mount = buildah(&["mount", &id]);
        assert!(mount.status.success(), "buildah mount: {}", text(&mount));
        let root = PathBuf::from(String::from_utf8_lossy(&mount.stdout).trim());
        let inspect = buildah(&["inspect", "--type", "image", IMAGE]);
        assert!(inspect.status.success(), "{}", text(&inspect));
        let inspected: Value = serde_json::from_slice(&inspect.stdout).unwrap();
        let config = inspected["OCIv1"]["config"].clone();
        // What a container runtime provides: mount points for /proc and /dev.
        for dir in ["proc", "dev"] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        for dev in ["null", "urandom"] {
            std::fs::write(root.join("dev").join(dev), "").unwrap();
        }
        Container { id, root, config }
    }

    /// The image's environment, as the runtime would set it.
    fn env(&self) -> Vec<(String, String)> {
        self.config["Env"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e.as_str()?.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Runs `args` in the container as a pod would: its own mount namespace, the root file
    /// system read-only, /proc mounted, /tmp a fresh tmpfs, the data and cache volumes
    /// writable folders of the test, `binds` (host folder, container path) read-only, the
    /// working folder `cwd`, the image's user (65532, no supplementary groups) and environment.
    fn run(
        &self,
        cwd: &str,
        binds: &[(&Path, &str)],
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Output {
        let user = self.config["User"].as_str().unwrap_or_default().to_string();
        assert_eq!(user, format!("{NONROOT}:{NONROOT}"), "the image's user");
        let volumes = tempfile::tempdir().unwrap();
        let data = volumes.path().join("data");
        let cache = volumes.path().join("cache");
        for dir in [&data, &cache] {
            std::fs::create_dir(dir).unwrap();
            std::os::unix::fs::chown(dir, Some(NONROOT), Some(NONROOT)).unwrap();
        }
        let c = |p: &Path| CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
        let root = c(&self.root);
        let inside = |p: &str| c(&self.root.join(p.trim_start_matches('/')));
        let mut mounts: Vec<(CString, CString, bool)> = vec![
            (c(&data), inside("/var/lib/gitdrift"), false),
            (c(&cache), inside("/var/cache/gitdrift"), false),
            (c(Path::new("/dev/null")), inside("/dev/null"), false),
            (c(Path::new("/dev/urandom")), inside("/dev/urandom"), false),
        ];
        for (host, path) in binds {
            // The mount point, in the container's own layer (as a runtime makes it).
            std::fs::create_dir_all(self.root.join(path.trim_start_matches('/'))).unwrap();
            mounts.push((c(host), inside(path), true));
        }
        let proc_dir = inside("/proc");
        let tmp = inside("/tmp");
        let cwd = CString::new(cwd).unwrap();
        let (proc_fs, tmpfs, tmpfs_options) = (
            CString::new("proc").unwrap(),
            CString::new("tmpfs").unwrap(),
            CString::new("mode=1777").unwrap(),
        );
        let slash = CString::new("/").unwrap();
        let mut command = Command::new("/usr/local/bin/gitdrift");
        command
            .args(args)
            .env_clear()
            .envs(self.env())
            .envs(env.iter().copied())
            .stdin(Stdio::null());
        let check = |rc: libc::c_int| {
            if rc == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        };
        // SAFETY: between fork and exec only system calls run, on strings made beforehand.
        unsafe {
            command.pre_exec(move || {
                let null = std::ptr::null();
                check(libc::unshare(libc::CLONE_NEWNS))?;
                check(libc::mount(
                    null,
                    slash.as_ptr(),
                    null,
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                ))?;
                let bind = |from: &CString, to: &CString, read_only: bool| {
                    check(libc::mount(
                        from.as_ptr(),
                        to.as_ptr(),
                        null,
                        libc::MS_BIND,
                        std::ptr::null(),
                    ))?;
                    if read_only {
                        check(libc::mount(
                            null,
                            to.as_ptr(),
                            null,
                            libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY,
                            std::ptr::null(),
                        ))?;
                    }
                    Ok::<(), std::io::Error>(())
                };
                bind(&root, &root, true)?;
                check(libc::mount(
                    proc_fs.as_ptr(),
                    proc_dir.as_ptr(),
                    proc_fs.as_ptr(),
                    0,
                    std::ptr::null(),
                ))?;
                check(libc::mount(
                    tmpfs.as_ptr(),
                    tmp.as_ptr(),
                    tmpfs.as_ptr(),
                    0,
                    tmpfs_options.as_ptr().cast(),
                ))?;
                for (from, to, read_only) in &mounts {
                    bind(from, to, *read_only)?;
                }
                check(libc::chroot(root.as_ptr()))?;
                check(libc::chdir(cwd.as_ptr()))?;
                check(libc::setgroups(0, std::ptr::null()))?;
                check(libc::setgid(NONROOT))?;
                check(libc::setuid(NONROOT))?;
                Ok(())
            });
        }
        command.output().expect("run gitdrift in the image")
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = buildah(&["umount", &self.id]);
        let _ = buildah(&["rm", &self.id]);
    }
}

/// A report with what differs from run to run (times, durations) taken out.
fn timeless(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|k, _| !(k.ends_with("_at") || k.contains("duration")));
            map.values_mut().for_each(timeless);
        }
        Value::Array(items) => items.iter_mut().for_each(timeless),
        _ => {}
    }
}

#[test]
fn the_image_runs_read_only_as_65532_and_scans_as_the_binary_does() {
    let size = build_image();
    assert!(
        size < MAX_IMAGE_BYTES,
        "the image is {size} bytes, over {MAX_IMAGE_BYTES}"
    );
    let container = Container::new();
    let version = env!("CARGO_PKG_VERSION");
    let labels = &container.config["Labels"];
    assert_eq!(labels["org.opencontainers.image.version"], version);
    assert_eq!(labels["org.opencontainers.image.licenses"], "Apache-2.0");
    assert!(labels["org.opencontainers.image.source"].is_string());
    let head = support::git(&project_root(), &["rev-parse", "HEAD"]);
    assert_eq!(labels["org.opencontainers.image.revision"], head.trim());
    // No shell: nothing but gitdrift and the render tools is there to run.
    for shell in ["bin/sh", "bin/bash", "usr/bin/sh"] {
        assert!(!container.root.join(shell).exists(), "{shell} in the image");
    }

    // Under buildah's own runtime, as the image's user.
    let run = buildah(&[
        "run",
        "--isolation",
        "chroot",
        "--user",
        "65532:65532",
        &container.id,
        "--",
        "/usr/local/bin/gitdrift",
        "version",
    ]);
    assert!(run.status.success(), "{}", text(&run));
    assert_eq!(
        String::from_utf8_lossy(&run.stdout).trim(),
        format!("gitdrift {version}")
    );

    // As a pod runs it: read-only root, uid 65532.
    let verbose = container.run("/", &[], &[], &["-v", "version"]);
    let said = text(&verbose);
    assert!(verbose.status.success(), "{said}");
    assert!(said.contains(&format!("commit: {}", head.trim())), "{said}");
    assert!(
        said.lines().any(|l| l
            .trim_start()
            .starts_with("kubectl: /usr/local/bin/kubectl (")),
        "{said}"
    );
    assert!(said.contains("git over SSH: no ssh here"), "{said}");
    let helm_here = which("helm");
    if !helm_here {
        assert!(
            said.contains("helm: not found (Helm sources fail with an error naming it)"),
            "{said}"
        );
    }
    // The root file system is read-only there: a report written outside the volumes fails
    // naming the file, the same report under /tmp is written.
    let root = project_root();
    let to = |path: &str| {
        container.run(
            "/work",
            &[(&root, "/work")],
            &[],
            &[
                "scan",
                "--config",
                "examples/demo/gitdrift.yaml",
                "--output",
                path,
            ],
        )
    };
    let refused = to("/report.json");
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("Read-only file system") && text(&refused).contains("/report.json"),
        "{}",
        text(&refused)
    );
    let written = to("/tmp/report.txt");
    assert_eq!(written.status.code(), Some(1), "{}", text(&written));

    // The bundled demo, from the project's committed tree mounted read-only: the same report
    // as the binary's outside the image.
    let demo = [
        "scan",
        "--config",
        "examples/demo/gitdrift.yaml",
        "--format",
        "json",
    ];
    let inside = container.run("/work", &[(&root, "/work")], &[], &demo);
    assert_eq!(inside.status.code(), Some(1), "{}", text(&inside));
    let cache = tempfile::tempdir().unwrap();
    let outside = Command::new(env!("CARGO_BIN_EXE_gitdrift"))
        .args(demo)
        .current_dir(&root)
        .env_remove("GITDRIFT_CONFIG")
        .env("GITDRIFT_CACHE_DIR", cache.path())
        .output()
        .unwrap();
    assert_eq!(outside.status.code(), Some(1), "{}", text(&outside));
    let mut inside: Value = serde_json::from_slice(&inside.stdout).unwrap();
    let mut outside: Value = serde_json::from_slice(&outside.stdout).unwrap();
    timeless(&mut inside);
    timeless(&mut outside);
    assert!(
        inside["summary"]["drifted"].as_u64() > Some(0),
        "{inside:#}"
    );
    assert!(inside["findings"].as_array().is_some_and(|f| !f.is_empty()));
    assert_eq!(inside, outside, "the image's demo report differs");

    // A Kustomize source renders with the image's kubectl, its workspace under /tmp.
    let repo = support::Repo::new();
    repo.write("base/kustomization.yaml", "resources: [settings.yaml]\n");
    repo.write(
        "base/settings.yaml",
        &support::config_map("settings", "shop", &[("mode", "blue")]),
    );
    repo.write(
        "prod/kustomization.yaml",
        "resources: [../base]\nnamePrefix: prod-\n",
    );
    repo.write(
        "gitdrift.yaml",
        "sources:\n  - name: shop\n    repo: .\n    render: kustomize\n    path: prod\n    target: t\ntargets:\n  - name: t\n    snapshot: ./live\n",
    );
    repo.commit("an overlay");
    std::fs::create_dir(repo.path().join("live")).unwrap();
    let rendered = container.run(
        "/src",
        &[(repo.path(), "/src")],
        &[],
        &["scan", "--config", "gitdrift.yaml", "--format", "json"],
    );
    let report: Value =
        serde_json::from_slice(&rendered.stdout).unwrap_or_else(|_| panic!("{}", text(&rendered)));
    assert_eq!(report["problems"], serde_json::json!([]), "{report:#}");
    assert_eq!(
        report["resources"][0]["name"], "prod-settings",
        "{report:#}"
    );
    assert_eq!(report["resources"][0]["status"], "missing", "{report:#}");

    // A Helm source where the image has no helm: a clear error naming the tool.
    if !helm_here {
        let config = tempfile::tempdir().unwrap();
        std::fs::create_dir(config.path().join("live")).unwrap();
        std::fs::write(
            config.path().join("gitdrift.yaml"),
            "sources:\n  - name: chart\n    repo: /work\n    render: helm\n    path: helm/gitdrift\n    target: t\ntargets:\n  - name: t\n    snapshot: /config/live\n",
        )
        .unwrap();
        let run = container.run(
            "/",
            &[(&root, "/work"), (config.path(), "/config")],
            &[],
            &[
                "scan",
                "--config",
                "/config/gitdrift.yaml",
                "--format",
                "json",
            ],
        );
        let report: Value =
            serde_json::from_slice(&run.stdout).unwrap_or_else(|_| panic!("{}", text(&run)));
        let problems = report["problems"].to_string();
        assert!(problems.contains("helm"), "{problems}");
    }

    // HTTPS git: trusted through the image's CA bundle, refused when the bundle lacks the CA.
    let (served, commit) = support::served_repo();
    let token = "tok-image-3c1d9e7f5a2b-secret";
    let server = support::http_git::HttpGit::start_tls(served.path(), "x-access-token", token);
    let config = tempfile::tempdir().unwrap();
    std::fs::create_dir(config.path().join("live")).unwrap();
    std::fs::write(
        config.path().join("gitdrift.yaml"),
        format!(
            "sources:\n  - name: remote\n    repo: {}\n    target: t\n    auth:\n      token_env: SHOP_GIT_TOKEN\ntargets:\n  - name: t\n    snapshot: /config/live\n",
            server.url("shop.git")
        ),
    )
    .unwrap();
    let https = |container: &Container| {
        container.run(
            "/",
            &[(config.path(), "/config")],
            &[("SHOP_GIT_TOKEN", token)],
            &[
                "scan",
                "--config",
                "/config/gitdrift.yaml",
                "--format",
                "json",
            ],
        )
    };
    let refused = https(&container);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).to_lowercase().contains("certificate"),
        "{}",
        text(&refused)
    );
    let bundle = container.root.join("etc/ssl/certs/ca-certificates.crt");
    let mut trusted = std::fs::read_to_string(&bundle).unwrap();
    assert!(
        trusted.matches("BEGIN CERTIFICATE").count() > 50,
        "the CA bundle"
    );
    let ca = server.ca_file(config.path());
    trusted.push_str(&std::fs::read_to_string(ca).unwrap());
    std::fs::write(&bundle, trusted).unwrap();
    let fetched = https(&container);
    assert!(
        fetched.status.code().is_some_and(|c| c < 2),
        "{}",
        text(&fetched)
    );
    let report: Value = serde_json::from_slice(&fetched.stdout).unwrap();
    assert_eq!(report["scan"]["sources"][0]["commit"], commit);
    assert!(!text(&fetched).contains(token));
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

#[test]
fn the_containerfile_shares_its_runtime_with_the_offline_build_and_versions_agree() {
    let root = project_root();
    let file = std::fs::read_to_string(root.join("Containerfile")).unwrap();
    let stages: Vec<&str> = file.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(
        stages.len(),
        3,
        "build, tools and runtime stages: {stages:?}"
    );
    assert!(
        stages[2].starts_with("FROM gcr.io/distroless/cc"),
        "a distroless cc runtime: {}",
        stages[2]
    );
    let (_, runtime) = file
        .split_once("\n# --- runtime")
        .expect("the runtime marker scripts/image reads");
    assert!(
        !runtime.contains("\nFROM "),
        "the runtime section is the last stage's"
    );
    assert!(runtime.contains("\nUSER 65532:65532\n"));
    assert!(runtime.contains(&format!("ARG VERSION={}\n", env!("CARGO_PKG_VERSION"))));
    let script = std::fs::read_to_string(root.join("scripts/image")).unwrap();
    assert!(script.contains("sed -n '/^# --- runtime/,$p' Containerfile"));
    // The chart runs this version of this image.
    let chart: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(root.join("helm/gitdrift/Chart.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(chart["appVersion"], env!("CARGO_PKG_VERSION"));
    let values: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(root.join("helm/gitdrift/values.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(values["image"]["repository"], "ghcr.io/gitdrift/gitdrift");
    assert!(
        runtime
            .contains("org.opencontainers.image.source=\"https://github.com/gitdrift/gitdrift\"")
    );
}
