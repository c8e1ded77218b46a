//! Rendered sources: Kustomize overlays and Helm charts turned into manifests, as Argo CD and Flux
//! do before comparing. The committed tree at the source's ref is exported to a private temporary
//! folder (never the working copy) and the tool runs there, with a clean environment (no
//! credentials), no network needed, and a time limit. Each object remembers the file the tool
//! names as its origin (a Kustomize resource file, a Helm template) and what rendered it.
//! Successful renders are cached per source, commit and settings.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::Value;

use super::child::{reader, wait_or_kill};
use super::git::TreeFile;
use crate::config::Limits;
use crate::config::{HelmSettings, KustomizeSettings, Render, Source};
use crate::manifest::{self, FileProblem, ParsedFile, Syntax};
use crate::model::{Code, Object, Rendered};

/// The most a renderer may print; more is refused as hostile.
const MAX_OUTPUT: usize = 256 * 1024 * 1024;
/// How many renders the cache keeps.
const CACHE_ENTRIES: usize = 64;
/// The annotation Kustomize writes with `buildMetadata: [originAnnotations]`.
const ORIGIN_ANNOTATION: &str = "config.kubernetes.io/origin";

/// Why a render failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The tool is not installed.
    #[error("{tool}: `{binary}` not found{hint}")]
    MissingBinary {
        /// kustomize or helm.
        tool: &'static str,
        /// What was looked for.
        binary: String,
        /// Where it was looked for.
        hint: String,
    },
    /// The tool ran and failed; its own message follows.
    #[error("{tool} failed for {path}: {message}")]
    Failed {
        /// kustomize or helm.
        tool: &'static str,
        /// The kustomization or chart.
        path: String,
        /// The tool's standard error (last part).
        message: String,
    },
    /// The tool took longer than allowed and was stopped.
    #[error("{tool} took longer than {timeout:?} for {path}; stopped")]
    Timeout {
        /// kustomize or helm.
        tool: &'static str,
        /// The kustomization or chart.
        path: String,
        /// The limit.
        timeout: Duration,
    },
    /// The input is refused before rendering (a remote base, a missing folder or file); the
    /// problem names `path` as its file.
    #[error("{message}")]
    Refused {
        /// The kustomization, chart or file concerned.
        path: String,
        /// Why.
        message: String,
    },
    /// The private folder could not be prepared.
    #[error("cannot prepare the render folder: {0}")]
    Io(String),
}

impl RenderError {
    /// The problem code.
    pub fn code(&self) -> Code {
        match self {
            RenderError::MissingBinary { .. } => Code::RenderMissingTool,
            RenderError::Failed { .. } | RenderError::Io(_) => Code::RenderFailed,
            RenderError::Timeout { .. } => Code::RenderTimeout,
            RenderError::Refused { .. } => Code::RenderRefused,
        }
    }
}

/// What rendering a source produced: objects, and problems tied to the render target.
#[derive(Debug, Default)]
pub struct RenderRead {
    /// Objects, with their origins.
    pub objects: Vec<Object>,
    /// Failed renders, one per kustomization or chart.
    pub errors: Vec<(String, RenderError)>,
    /// Notes (skipped Helm hooks).
    pub notes: Vec<(String, String)>,
}

/// A render is known by source, commit and settings.
type CacheKey = (String, String, String);
/// Render outputs, oldest first, kept for later scans of the same commit.
type Cache = Mutex<Vec<(CacheKey, Arc<String>)>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(Vec::new()))
}

fn cached(key: &CacheKey) -> Option<Arc<String>> {
    let cache = cache().lock().unwrap_or_else(|e| e.into_inner());
    cache
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| Arc::clone(v))
}

fn remember(key: CacheKey, output: Arc<String>) {
    let mut cache = cache().lock().unwrap_or_else(|e| e.into_inner());
    cache.retain(|(k, _)| *k != key);
    if cache.len() >= CACHE_ENTRIES {
        cache.remove(0);
    }
    cache.push((key, output));
}

/// Renders a source's kustomizations or chart from the files of its tree at `commit`.
pub fn render(source: &Source, commit: &str, files: &[TreeFile], limits: &Limits) -> RenderRead {
    let mut out = RenderRead::default();
    let targets: Vec<(&'static str, String)> = match &source.render {
        Render::Plain => return out,
        Render::Kustomize(k) => k.paths.iter().map(|p| ("kustomize", p.clone())).collect(),
        Render::Helm(h) => vec![("helm", h.chart.clone())],
    };
    let mut workspace: Option<Workspace> = None;
    let line = crate::progress::Line::start(
        &format!("render {}", source.name),
        Some(targets.len() as u64),
        if matches!(source.render, Render::Helm(_)) {
            "charts"
        } else {
            "overlays"
        },
    );
    for (tool, path) in targets {
        line.message(path.clone());
        line.inc(1);
        let key = (
            source.name.clone(),
            commit.to_string(),
            format!("{path}\n{:?}\n{:?}", source.render, source.render_timeout),
        );
        let text = match cached(&key) {
            Some(text) => text,
            None => {
                if workspace.is_none() {
                    match Workspace::export(files) {
                        Ok(ws) => workspace = Some(ws),
                        Err(err) => {
                            out.errors.push((path, err));
                            return out;
                        }
                    }
                }
                let Some(ws) = workspace.as_ref() else {
                    return out;
                };
                let result = match &source.render {
                    Render::Kustomize(k) => kustomize(ws, k, &path, source.render_timeout),
                    Render::Helm(h) => helm(ws, h, source.render_timeout),
                    Render::Plain => continue,
                };
                match result {
                    Ok(text) => {
                        let text = Arc::new(text);
                        remember(key, Arc::clone(&text));
                        text
                    }
                    Err(err) => {
                        out.errors.push((path, err));
                        continue;
                    }
                }
            }
        };
        let rendered = Rendered {
            tool: tool.into(),
            path: path.clone(),
        };
        let label = format!("{tool} {path}");
        let parsed = manifest::parse(&label, text.as_bytes(), Syntax::Yaml, limits);
        let mut locator = Locator::new(files, limits);
        push_problems(&parsed, tool, &path, &mut out);
        match tool {
            "kustomize" => collect_kustomize(parsed, &path, rendered, &mut locator, &mut out),
            _ => collect_helm(parsed, &text, &path, rendered, &mut out),
        }
    }
    out
}

/// Renders one kustomization (or the chart) of a source from `files` (the tree at a commit, with
/// a remediation plan's edits written over it), as a scan would but uncached: what a plan checks
/// its overlay and values edits with. The objects as values, in the tool's order, Kustomize's
/// origin annotation removed.
pub fn render_values(
    source: &Source,
    path: &str,
    files: &[TreeFile],
    limits: &Limits,
) -> Result<Vec<Value>, RenderError> {
    let ws = Workspace::export(files)?;
    let text = match &source.render {
        Render::Kustomize(k) => kustomize(&ws, k, path, source.render_timeout)?,
        Render::Helm(h) => helm(&ws, h, source.render_timeout)?,
        Render::Plain => return Ok(Vec::new()),
    };
    let parsed = manifest::parse(path, text.as_bytes(), Syntax::Yaml, limits);
    if let Some(error) = parsed.errors.first() {
        return Err(RenderError::Failed {
            tool: if matches!(source.render, Render::Helm(_)) {
                "helm"
            } else {
                "kustomize"
            },
            path: path.to_string(),
            message: format!("its output does not read: {}", error.message),
        });
    }
    Ok(parsed
        .objects
        .into_iter()
        .map(|object| {
            let mut value = object.value().into_owned();
            take_origin_annotation(&mut value);
            value
        })
        .collect())
}

/// The names Kustomize looks for a kustomization under, in its order.
pub const KUSTOMIZATION_FILES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The exported tree in a private folder (mode 0700), removed when dropped.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn export(files: &[TreeFile]) -> Result<Workspace, RenderError> {
        let dir = tempfile::Builder::new()
            .prefix("gitdrift-render-")
            .tempdir()
            .map_err(|e| RenderError::Io(e.to_string()))?;
        for sub in ["repo", "home", "tmp"] {
            std::fs::create_dir(dir.path().join(sub))
                .map_err(|e| RenderError::Io(e.to_string()))?;
        }
        for file in files {
            // Tree paths are `/`-separated names; anything that could leave the folder is skipped.
            let rel = Path::new(&file.path);
            if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
                continue;
            }
            let target = dir.path().join("repo").join(rel);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(|e| RenderError::Io(e.to_string()))?;
            }
            std::fs::write(&target, &file.bytes).map_err(|e| RenderError::Io(e.to_string()))?;
        }
        Ok(Workspace { dir })
    }

    fn repo(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    /// Runs a tool in the exported tree with a clean environment and a time limit.
    fn run(
        &self,
        tool: &'static str,
        path: &str,
        binary: &Path,
        args: &[String],
        timeout: Duration,
    ) -> Result<String, RenderError> {
        let home = self.dir.path().join("home");
        let mut command = Command::new(binary);
        command
            .args(args)
            .current_dir(self.repo())
            .env_clear()
            .env("PATH", safe_path())
            .env("HOME", &home)
            .env("TMPDIR", self.dir.path().join("tmp"))
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("HELM_CACHE_HOME", home.join(".cache/helm"))
            .env("HELM_CONFIG_HOME", home.join(".config/helm"))
            .env("HELM_DATA_HOME", home.join(".local/share/helm"))
            // Never reach a cluster from a render.
            .env("KUBECONFIG", "/dev/null")
            .env("LANG", "C.UTF-8")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            // Its own process group, so that a timeout stops every process it started.
            command.process_group(0);
        }
        let mut child = command.spawn().map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => RenderError::MissingBinary {
                tool,
                binary: binary.display().to_string(),
                hint: String::new(),
            },
            _ => RenderError::Failed {
                tool,
                path: path.to_string(),
                message: err.to_string(),
            },
        })?;
        let stdout = child.stdout.take().map(|s| reader(s, MAX_OUTPUT));
        let stderr = child.stderr.take().map(|s| reader(s, 64 * 1024));
        let Some(status) = wait_or_kill(&mut child, timeout) else {
            return Err(RenderError::Timeout {
                tool,
                path: path.to_string(),
                timeout,
            });
        };
        let (stdout, truncated) = stdout.and_then(|h| h.join().ok()).unwrap_or_default();
        let (stderr, _) = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
        if !status.success() {
            let message = String::from_utf8_lossy(&stderr);
            let message = tail(message.trim(), 2000);
            return Err(RenderError::Failed {
                tool,
                path: path.to_string(),
                message: if message.is_empty() {
                    format!("exited with {status}")
                } else {
                    message
                },
            });
        }
        if truncated {
            return Err(RenderError::Failed {
                tool,
                path: path.to_string(),
                message: format!("output larger than {MAX_OUTPUT} bytes"),
            });
        }
        String::from_utf8(stdout).map_err(|_| RenderError::Failed {
            tool,
            path: path.to_string(),
            message: "output is not UTF-8".to_string(),
        })
    }
}

/// The last `max` characters of a message (tools put the cause last).
fn tail(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_string();
    }
    let skip = count - max;
    format!("…{}", text.chars().skip(skip).collect::<String>())
}

/// The PATH a render sees: the process's own (not a credential), or a conventional default.
fn safe_path() -> String {
    std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".to_string())
}

/// Finds a program on PATH (or takes a path as given).
/// A render tool as `gitdrift version --verbose` reports it.
pub struct Tool {
    /// Its program name.
    pub name: &'static str,
    /// Where it is on PATH, and what it says its version is.
    pub found: Option<(PathBuf, String)>,
    /// What does not work without it.
    pub without: &'static str,
}

/// The render tools on PATH (kustomize, kubectl with its built-in kustomize, helm), each with
/// the version it reports (asked with a 5 s limit).
pub fn tools() -> Vec<Tool> {
    [
        (
            "kustomize",
            &["version"][..],
            "Kustomize sources use kubectl's built-in kustomize",
        ),
        (
            "kubectl",
            &["version", "--client"][..],
            "Kustomize sources need kustomize or kubectl",
        ),
        (
            "helm",
            &["version", "--short"][..],
            "Helm sources fail with an error naming it",
        ),
    ]
    .into_iter()
    .map(|(name, args, without)| Tool {
        name,
        found: find_program(name).map(|path| {
            let version = tool_version(&path, args);
            (path, version)
        }),
        without,
    })
    .collect()
}

/// The first line a tool prints for its version, or why there is none.
fn tool_version(path: &Path, args: &[&str]) -> String {
    let mut command = Command::new(path);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    let Ok(mut child) = command.spawn() else {
        return "does not start".to_string();
    };
    let stdout = child.stdout.take().map(|s| reader(s, 16 * 1024));
    if wait_or_kill(&mut child, Duration::from_secs(5)).is_none() {
        return "no answer within 5 s".to_string();
    }
    let (out, _) = stdout.and_then(|h| h.join().ok()).unwrap_or_default();
    String::from_utf8_lossy(&out)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map_or_else(|| "version unknown".to_string(), str::to_string)
}

/// Where `ssh` is, which git sources over SSH run (`None`: such sources cannot be fetched here,
/// as in the container image).
pub fn ssh_program() -> Option<PathBuf> {
    find_program("ssh")
}

fn find_program(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let path = PathBuf::from(name);
        return path.is_file().then_some(path);
    }
    std::env::split_paths(&safe_path())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn kustomize(
    ws: &Workspace,
    settings: &KustomizeSettings,
    path: &str,
    timeout: Duration,
) -> Result<String, RenderError> {
    let repo = ws.repo();
    let dir = repo.join(path);
    let Some(file) = kustomization_file(&dir) else {
        return Err(RenderError::Refused {
            path: path.to_string(),
            message: "no kustomization.yaml, kustomization.yml or Kustomization in this folder at the scanned commit".to_string(),
        });
    };
    if !settings.allow_remote_bases {
        check_local(&repo, &dir, &mut Vec::new())?;
    }
    // Ask Kustomize to say where each object comes from (in the private copy only).
    let text = std::fs::read_to_string(&file).map_err(|e| RenderError::Io(e.to_string()))?;
    if !text.lines().any(|l| l.starts_with("buildMetadata:")) {
        let patched = format!("{text}\nbuildMetadata: [originAnnotations]\n");
        std::fs::write(&file, patched).map_err(|e| RenderError::Io(e.to_string()))?;
    }
    let (binary, use_kubectl) = match &settings.binary {
        Some(binary) => {
            let found = find_program(binary).ok_or_else(|| RenderError::MissingBinary {
                tool: "kustomize",
                binary: binary.clone(),
                hint: " (source.kustomize.binary)".to_string(),
            })?;
            let is_kubectl = found
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("kubectl"));
            (found, is_kubectl)
        }
        None => match find_program("kustomize") {
            Some(found) => (found, false),
            None => (
                find_program("kubectl").ok_or_else(|| RenderError::MissingBinary {
                    tool: "kustomize",
                    binary: "kustomize or kubectl".to_string(),
                    hint: " on PATH".to_string(),
                })?,
                true,
            ),
        },
    };
    let mut args = if use_kubectl {
        vec!["kustomize".to_string(), path.to_string()]
    } else {
        vec!["build".to_string(), path.to_string()]
    };
    args.extend(settings.args.iter().cloned());
    ws.run("kustomize", path, &binary, &args, timeout)
}

fn kustomization_file(dir: &Path) -> Option<PathBuf> {
    KUSTOMIZATION_FILES
        .iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_file())
}

/// Whether a Kustomize reference points outside the repository (a URL or a git remote).
fn is_remote(reference: &str) -> bool {
    let r = reference.trim();
    r.contains("://")
        || r.starts_with("git@")
        || r.starts_with("git::")
        || r.contains("?ref=")
        || ["github.com/", "gitlab.com/", "bitbucket.org/"]
            .iter()
            .any(|host| r.starts_with(host))
}

/// Kustomization fields whose entries are paths Kustomize loads, and whether a local folder
/// there is itself a kustomization to walk. Kustomize's loader fetches any of them over
/// HTTP(S) or git when given a URL, so every one is inspected.
const REFERENCE_LISTS: [(&str, bool); 9] = [
    ("resources", true),
    ("bases", true),
    ("components", true),
    ("generators", true),
    ("transformers", true),
    ("validators", true),
    ("crds", false),
    ("configurations", false),
    ("patchesStrategicMerge", false),
];

/// Every path a kustomization names, with whether a folder there is a kustomization to walk.
fn references(value: &Value) -> Vec<(String, bool)> {
    let strings = |v: Option<&Value>| -> Vec<String> {
        match v {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        }
    };
    let mut out = Vec::new();
    for (key, walk) in REFERENCE_LISTS {
        // Inline configurations (several lines of YAML) are not paths.
        out.extend(
            strings(value.get(key))
                .into_iter()
                .filter(|s| !s.contains('\n'))
                .map(|s| (s, walk)),
        );
    }
    out.extend(
        strings(value.pointer("/openapi/path"))
            .into_iter()
            .map(|s| (s, false)),
    );
    for key in ["patches", "patchesJson6902", "replacements"] {
        for item in value
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.extend(strings(item.get("path")).into_iter().map(|s| (s, false)));
        }
    }
    for key in ["configMapGenerator", "secretGenerator"] {
        for item in value
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for field in ["files", "envs", "env"] {
                out.extend(strings(item.get(field)).into_iter().map(|s| (s, false)));
            }
        }
    }
    for chart in value
        .get("helmCharts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.extend(strings(chart.get("repo")).into_iter().map(|s| (s, false)));
    }
    out
}

/// A path with `.` and `..` folded away, so each kustomization is named (and visited) once.
fn fold(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Walks a kustomization and the local kustomizations it uses, refusing remote references
/// and any kustomization that does not parse (an unreadable file cannot be shown to be local).
fn check_local(repo: &Path, dir: &Path, seen: &mut Vec<PathBuf>) -> Result<(), RenderError> {
    if seen.iter().any(|d| d == dir) {
        return Ok(());
    }
    let Some(file) = kustomization_file(dir) else {
        return Ok(());
    };
    let shown = file
        .strip_prefix(repo)
        .unwrap_or(&file)
        .display()
        .to_string();
    if seen.len() >= 1000 {
        return Err(RenderError::Refused {
            path: shown,
            message: "more than 1000 kustomizations reached; refused rather than left unchecked"
                .to_string(),
        });
    }
    seen.push(dir.to_path_buf());
    let text = std::fs::read_to_string(&file).map_err(|e| RenderError::Io(e.to_string()))?;
    let options = manifest::yaml_options(&Limits::default());
    let value: Value = serde_saphyr::from_str_with_options::<manifest::Strict>(&text, options)
        .map(|s| s.0)
        .map_err(|e| RenderError::Refused {
            path: shown.clone(),
            message: format!(
                "the kustomization does not parse, so its references cannot be checked: {}",
                tail(&e.to_string(), 300)
            ),
        })?;
    for (reference, walk) in references(&value) {
        if is_remote(&reference) {
            return Err(RenderError::Refused {
                path: shown,
                message: format!(
                    "remote reference `{reference}` refused (set source.kustomize.allow_remote_bases to allow it)"
                ),
            });
        }
        let next = fold(&dir.join(&reference));
        if walk && next.is_dir() {
            check_local(repo, &next, seen)?;
        }
    }
    Ok(())
}

fn helm(ws: &Workspace, settings: &HelmSettings, timeout: Duration) -> Result<String, RenderError> {
    let repo = ws.repo();
    if !repo.join(&settings.chart).join("Chart.yaml").is_file() {
        return Err(RenderError::Refused {
            path: settings.chart.clone(),
            message: "no Chart.yaml in this folder at the scanned commit".to_string(),
        });
    }
    let binary = find_program(&settings.binary).ok_or_else(|| RenderError::MissingBinary {
        tool: "helm",
        binary: settings.binary.clone(),
        hint: " (source.helm.binary; on PATH by default)".to_string(),
    })?;
    let mut args = vec![
        "template".to_string(),
        settings.release.clone(),
        settings.chart.clone(),
        "--namespace".to_string(),
        settings.namespace.clone(),
        "--include-crds".to_string(),
    ];
    for file in &settings.values_files {
        if !repo.join(file).is_file() {
            return Err(RenderError::Refused {
                path: file.clone(),
                message: "values file not found at the scanned commit".to_string(),
            });
        }
        args.push("--values".to_string());
        args.push(file.clone());
    }
    if let Some(values) = &settings.values {
        let inline = ws.dir.path().join("inline-values.json");
        std::fs::write(&inline, values.to_string()).map_err(|e| RenderError::Io(e.to_string()))?;
        args.push("--values".to_string());
        args.push(inline.display().to_string());
    }
    if let Some(version) = &settings.kube_version {
        args.push("--kube-version".to_string());
        args.push(version.clone());
    }
    args.extend(settings.args.iter().cloned());
    ws.run("helm", &settings.chart, &binary, &args, timeout)
}

/// Finds where, in a repository file, a rendered object starts.
struct Locator<'a> {
    files: HashMap<&'a str, &'a TreeFile>,
    parsed: HashMap<String, Vec<(String, String, u64)>>,
    limits: &'a Limits,
}

impl<'a> Locator<'a> {
    fn new(files: &'a [TreeFile], limits: &'a Limits) -> Locator<'a> {
        Locator {
            files: files.iter().map(|f| (f.path.as_str(), f)).collect(),
            parsed: HashMap::new(),
            limits,
        }
    }

    /// The line of the object of `kind` whose name the rendered `name` contains (prefixes and
    /// suffixes are Kustomize's), in `file`.
    fn line(&mut self, file: &str, kind: &str, name: &str) -> Option<u64> {
        if !self.parsed.contains_key(file) {
            let objects = self
                .files
                .get(file)
                .map(|f| {
                    let syntax = Syntax::of_path(file).unwrap_or(Syntax::Yaml);
                    manifest::parse(file, &f.bytes, syntax, self.limits)
                        .objects
                        .into_iter()
                        .map(|o| (o.kind, o.name, o.origin.line.unwrap_or(1)))
                        .collect()
                })
                .unwrap_or_default();
            self.parsed.insert(file.to_string(), objects);
        }
        let objects = self.parsed.get(file)?;
        objects
            .iter()
            .filter(|(k, n, _)| k == kind && name.contains(n.as_str()))
            .max_by_key(|(_, n, _)| n.len())
            .or_else(|| objects.iter().find(|(k, _, _)| k == kind))
            .map(|(_, _, line)| *line)
    }
}

/// Joins a path relative to a folder inside the repository, folding `..`.
fn join_repo(base: &str, relative: &str) -> String {
    let mut parts: Vec<&str> = if base == "." {
        Vec::new()
    } else {
        base.split('/').collect()
    };
    for part in relative.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

fn collect_kustomize(
    parsed: ParsedFile,
    path: &str,
    rendered: Rendered,
    locator: &mut Locator<'_>,
    out: &mut RenderRead,
) {
    let kustomization = kustomization_name(locator, path);
    for mut object in parsed.objects {
        let origin = object.body.tree_mut().and_then(take_origin_annotation);
        let (file, line) = match origin {
            Some(Origin::Path(rel)) => {
                let file = join_repo(path, &rel);
                let line = locator.line(&file, &object.kind, &object.name);
                (file, line)
            }
            Some(Origin::ConfiguredIn(rel)) => (join_repo(path, &rel), None),
            None => (kustomization.clone(), None),
        };
        object.origin.file = file;
        object.origin.line = line;
        object.origin.rendered = Some(rendered.clone());
        out.objects.push(object);
    }
}

fn kustomization_name(locator: &Locator<'_>, path: &str) -> String {
    KUSTOMIZATION_FILES
        .iter()
        .map(|name| join_repo(path, name))
        .find(|candidate| locator.files.contains_key(candidate.as_str()))
        .unwrap_or_else(|| join_repo(path, "kustomization.yaml"))
}

enum Origin {
    Path(String),
    ConfiguredIn(String),
}

/// Removes Kustomize's origin annotation (ours, added for the render) and reads it.
fn take_origin_annotation(value: &mut Value) -> Option<Origin> {
    let annotations = value
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)?;
    let text = annotations.shift_remove(ORIGIN_ANNOTATION)?;
    if annotations.is_empty()
        && let Some(metadata) = value.get_mut("metadata").and_then(Value::as_object_mut)
    {
        metadata.shift_remove("annotations");
    }
    let text = text.as_str()?.to_string();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("path: ") {
            return Some(Origin::Path(rest.trim().to_string()));
        }
        if let Some(rest) = line.strip_prefix("configuredIn: ") {
            return Some(Origin::ConfiguredIn(rest.trim().to_string()));
        }
    }
    None
}

fn collect_helm(
    parsed: ParsedFile,
    text: &str,
    chart: &str,
    rendered: Rendered,
    out: &mut RenderRead,
) {
    // `helm template` heads each document with `# Source: <chart>/templates/<file>`.
    let sources: Vec<(u64, String)> = text
        .lines()
        .enumerate()
        .filter_map(|(i, line)| {
            line.strip_prefix("# Source: ")
                .map(|s| (i as u64 + 1, s.trim().to_string()))
        })
        .collect();
    let mut hooks = 0usize;
    for mut object in parsed.objects {
        let is_hook = object
            .value()
            .pointer("/metadata/annotations/helm.sh~1hook")
            .is_some();
        if is_hook {
            hooks += 1;
            continue;
        }
        let line = object.origin.line.unwrap_or(1);
        let template = sources
            .iter()
            .take_while(|(at, _)| *at < line)
            .last()
            .map(|(_, source)| source.clone());
        object.origin.file = match template {
            // `<chart name>/templates/x.yaml`, `<chart name>/charts/sub/templates/y.yaml`
            Some(source) => match source.split_once('/') {
                Some((_, rest)) => join_repo(chart, rest),
                None => join_repo(chart, &source),
            },
            None => join_repo(chart, "Chart.yaml"),
        };
        object.origin.line = None;
        object.origin.rendered = Some(rendered.clone());
        out.objects.push(object);
    }
    if hooks > 0 {
        out.notes.push((
            chart.to_string(),
            format!(
                "{hooks} Helm hook object(s) (helm.sh/hook) skipped: hooks run around a release and are not part of its steady state"
            ),
        ));
    }
}

/// Problems in a renderer's output (it printed something that is not a valid manifest).
fn push_problems(parsed: &ParsedFile, tool: &'static str, path: &str, out: &mut RenderRead) {
    for FileProblem { line, message, .. } in &parsed.errors {
        let at = line
            .map(|l| format!(" (rendered output line {l})"))
            .unwrap_or_default();
        out.errors.push((
            path.to_string(),
            RenderError::Failed {
                tool,
                path: path.to_string(),
                message: format!("{message}{at}"),
            },
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks a repository made of `(path, text)` files from its `app` folder.
    fn check(files: &[(&str, &str)]) -> Result<(), RenderError> {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let file = dir.path().join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
        }
        check_local(dir.path(), &dir.path().join("app"), &mut Vec::new())
    }

    fn refused(result: Result<(), RenderError>) -> String {
        match result {
            Err(RenderError::Refused { path, message }) => format!("{path}: {message}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn every_field_that_can_name_a_remote_is_inspected_in_every_local_kustomization() {
        let remote = "https://example.com/x.yaml";
        for field in [
            format!("resources: [{remote}]"),
            format!("components: [{remote}]"),
            format!("generators: [{remote}]"),
            format!("transformers: [{remote}]"),
            format!("validators: [{remote}]"),
            format!("crds: [{remote}]"),
            format!("configurations: [{remote}]"),
            format!("openapi:\n  path: {remote}"),
            format!("patches:\n  - path: {remote}"),
            format!("configMapGenerator:\n  - name: c\n    files: [k={remote}]"),
            "helmCharts:\n  - name: c\n    repo: https://charts.example.com".to_string(),
        ] {
            // Directly, and two local kustomizations away through `transformers`.
            let message = refused(check(&[("app/kustomization.yaml", &field)]));
            assert!(message.contains("remote reference"), "{field}: {message}");
            let message = refused(check(&[
                ("app/kustomization.yaml", "transformers: [../t]"),
                ("t/kustomization.yaml", "resources: [../deep]"),
                ("deep/kustomization.yaml", &field),
            ]));
            assert!(
                message.starts_with("deep/kustomization.yaml: remote"),
                "{message}"
            );
        }
        let local =
            "resources: [a.yaml]\ngenerators:\n  - |\n    apiVersion: builtin\n    kind: X\n";
        assert!(check(&[("app/kustomization.yaml", local)]).is_ok());
    }

    #[test]
    fn a_kustomization_that_does_not_parse_is_refused_not_skipped() {
        let message = refused(check(&[
            ("app/kustomization.yaml", "resources: [../base]"),
            (
                "base/kustomization.yaml",
                "resources: [https://example.com/x.yaml\nsecretGenerator: [{literals: [password=hunter2]",
            ),
        ]));
        assert!(
            message.starts_with("base/kustomization.yaml: the kustomization does not parse"),
            "{message}"
        );
        assert!(
            !message.contains("hunter2"),
            "never quotes the file: {message}"
        );
    }

    #[test]
    fn remote_references_are_recognised() {
        for remote in [
            "https://github.com/org/repo//base?ref=v1",
            "github.com/org/repo/base?ref=main",
            "git@github.com:org/repo.git//base",
            "git::https://example.com/repo.git",
            "ssh://git@example.com/repo.git",
        ] {
            assert!(is_remote(remote), "{remote}");
        }
        for local in ["../base", "deployment.yaml", "components/monitoring"] {
            assert!(!is_remote(local), "{local}");
        }
    }

    #[test]
    fn repo_paths_join_and_fold() {
        assert_eq!(
            join_repo("overlays/prod", "../../base/d.yaml"),
            "base/d.yaml"
        );
        assert_eq!(join_repo(".", "base/d.yaml"), "base/d.yaml");
        assert_eq!(
            join_repo("charts/shop", "templates/x.yaml"),
            "charts/shop/templates/x.yaml"
        );
    }

    #[test]
    fn the_origin_annotation_is_read_and_removed() {
        let mut value = serde_json::json!({
            "metadata": {"name": "x", "annotations": {ORIGIN_ANNOTATION: "path: ../../base/d.yaml\n"}}
        });
        let origin = take_origin_annotation(&mut value);
        assert!(matches!(origin, Some(Origin::Path(p)) if p == "../../base/d.yaml"));
        assert!(value["metadata"].get("annotations").is_none());
        let mut generated = serde_json::json!({
            "metadata": {"annotations": {"a": "b", ORIGIN_ANNOTATION: "configuredIn: kustomization.yaml\nconfiguredBy:\n  kind: ConfigMapGenerator\n"}}
        });
        let origin = take_origin_annotation(&mut generated);
        assert!(matches!(origin, Some(Origin::ConfiguredIn(p)) if p == "kustomization.yaml"));
        assert_eq!(
            generated["metadata"]["annotations"],
            serde_json::json!({"a": "b"})
        );
    }

    #[test]
    fn long_messages_keep_their_end() {
        assert_eq!(tail("abcdef", 3), "…def");
        assert_eq!(tail("abc", 3), "abc");
    }
}
