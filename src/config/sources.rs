//! `sources:` — where the desired state comes from: a repository (or a Terraform state file),
//! the files in it, how they become manifests (read as they are, or rendered by Kustomize or
//! Helm), and the credentials to reach it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;

use globset::Glob;

use super::checker::{Checker, Fields, resolve_path};
use super::node::{self, Node, NodeKind};

/// A git repository (or part of one) that declares the desired state of one target.
#[derive(Clone, Debug)]
pub struct Source {
    /// Unique name.
    pub name: String,
    /// Where the repository is.
    pub repo: RepoLocation,
    /// Branch, tag, commit or full ref; `None` means the remote's HEAD (a local repository's HEAD).
    pub git_ref: Option<String>,
    /// Region for AWS declarations and Terraform resources that name none.
    pub region: Option<String>,
    /// A waiver file in the repository (read from the committed tree, like the manifests).
    pub waivers: Option<String>,
    /// Globs selecting files inside the repository; empty means every manifest.
    pub paths: Vec<String>,
    /// Globs of files to leave out.
    pub exclude: Vec<String>,
    /// The target this source declares.
    pub target: String,
    /// Namespace for namespaced objects that name none (as `kubectl apply -n` would give them).
    pub namespace: String,
    /// Credentials for remote repositories.
    pub auth: GitAuth,
    /// How the files become manifests: read as they are, or rendered by Kustomize or Helm.
    pub render: Render,
    /// How long one render may take.
    pub render_timeout: Duration,
    /// Line of the source in the configuration file.
    pub line: u64,
}

/// How long a render may take unless the source says otherwise.
pub const DEFAULT_RENDER_TIMEOUT: Duration = Duration::from_secs(60);

/// How a source's files become manifests.
#[derive(Clone, Debug, PartialEq)]
pub enum Render {
    /// The files are manifests.
    Plain,
    /// `kustomize build` (or `kubectl kustomize`) of one or more kustomizations.
    Kustomize(KustomizeSettings),
    /// `helm template` of a chart.
    Helm(HelmSettings),
}

/// A Kustomize render.
#[derive(Clone, Debug, PartialEq)]
pub struct KustomizeSettings {
    /// Kustomization folders, relative to the repository root.
    pub paths: Vec<String>,
    /// `kustomize` or `kubectl` (or a path to either); `None`: the first found on PATH.
    pub binary: Option<String>,
    /// Extra flags for the build.
    pub args: Vec<String>,
    /// Allow remote bases and resources (`https://…`, `github.com/…`); refused by default.
    pub allow_remote_bases: bool,
}

/// A Helm render.
#[derive(Clone, Debug, PartialEq)]
pub struct HelmSettings {
    /// Chart folder, relative to the repository root (dependencies vendored in `charts/`).
    pub chart: String,
    /// Release name.
    pub release: String,
    /// Release namespace.
    pub namespace: String,
    /// Values files, relative to the repository root, applied in order.
    pub values_files: Vec<String>,
    /// Inline values, applied after the files.
    pub values: Option<serde_json::Value>,
    /// Kubernetes version for `.Capabilities.KubeVersion`.
    pub kube_version: Option<String>,
    /// The `helm` binary (or a path to it).
    pub binary: String,
    /// Extra flags for `helm template`.
    pub args: Vec<String>,
}

/// Where a repository lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RepoLocation {
    /// A repository on this machine, read in place.
    Local(PathBuf),
    /// A URL (https, http, ssh, git, file, or scp-like `git@host:org/repo.git`), cloned bare into
    /// the cache.
    Remote(String),
    /// A Terraform state file on this machine, outside git (`terraform_state:`).
    StateFile(PathBuf),
}

impl fmt::Display for RepoLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RepoLocation::Local(path) => write!(f, "{}", path.display()),
            RepoLocation::Remote(url) => f.write_str(&crate::model::redact::url(url)),
            RepoLocation::StateFile(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Credentials for a remote repository. Values are read when needed and never logged.
#[derive(Clone, Debug, Default)]
pub struct GitAuth {
    /// HTTPS token (sent as the password of basic authentication).
    pub token: Option<SecretRef>,
    /// User name for token authentication; default `x-access-token`.
    pub username: Option<String>,
    /// SSH private key file.
    pub ssh_key_file: Option<PathBuf>,
    /// SSH known_hosts file; without it, the user's SSH configuration decides.
    pub ssh_known_hosts_file: Option<PathBuf>,
}

/// Where a secret value is read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretRef {
    /// An environment variable.
    Env(String),
    /// A file (trailing newline stripped).
    File(PathBuf),
}

impl SecretRef {
    /// Reads the value (trimmed; never empty) and registers it for scrubbing from every output.
    pub fn read(&self) -> Result<String, String> {
        let value =
            match self {
                SecretRef::Env(var) => std::env::var(var)
                    .map_err(|_| format!("environment variable {var} is not set"))?,
                SecretRef::File(path) => std::fs::read_to_string(path)
                    .map_err(|err| format!("{}: {err}", path.display()))?,
            };
        let value = value.trim().to_string();
        if value.is_empty() {
            return Err("the configured secret is empty".into());
        }
        crate::model::redact::register(&value);
        Ok(value)
    }
}

impl Checker {
    pub(super) fn source(
        &mut self,
        node: &Node,
        targets: &BTreeMap<String, u64>,
    ) -> Option<Source> {
        let fields = self.fields(node, "a source")?;
        let name = self.required(&fields, "name", "source");
        let state = fields
            .get("terraform_state")
            .and_then(|n| self.path(n, "source.terraform_state"));
        let repo = match (fields.get("repo"), state) {
            (Some(n), None) => self
                .string(n, "source.repo")
                .map(|raw| repo_location(&self.base, &raw)),
            (None, Some(state)) => Some(RepoLocation::StateFile(state)),
            (Some(_), Some(_)) => {
                self.error(node, "a source takes `repo` or `terraform_state`, not both");
                None
            }
            (None, None) => {
                self.missing(node, "source needs `repo` (or `terraform_state`)");
                None
            }
        };
        let region = self.optional(&fields, "region", "source");
        let git_ref = self.optional(&fields, "ref", "source");
        let paths = fields
            .get("paths")
            .map(|n| self.string_list(n, "source.paths"))
            .unwrap_or_default();
        let exclude = fields
            .get("exclude")
            .map(|n| self.string_list(n, "source.exclude"))
            .unwrap_or_default();
        for (key, globs) in [("paths", &paths), ("exclude", &exclude)] {
            for glob in globs.iter() {
                if let Err(err) = Glob::new(glob) {
                    let at = fields.get(key).unwrap_or(node);
                    self.error(
                        at,
                        format!("source.{key}: `{glob}` is not a valid glob: {}", err.kind()),
                    );
                }
            }
        }
        let target = self.required(&fields, "target", "source");
        if let Some(target) = &target
            && !targets.contains_key(target)
        {
            let at = fields.get("target").unwrap_or(node);
            let known: Vec<&str> = targets.keys().map(String::as_str).collect();
            self.error(
                at,
                format!(
                    "source names target `{target}`, which is not defined (targets: {})",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            );
        }
        let namespace = self
            .optional(&fields, "namespace", "source")
            .unwrap_or_else(|| "default".to_string());
        if let Some(n) = fields.get("namespace")
            && !crate::model::names::is_dns_label(&namespace)
        {
            self.error(
                n,
                format!("source.namespace `{namespace}` is not a namespace (lowercase letters, digits and `-`, at most 63)"),
            );
        }
        let auth = fields.get("auth").map(|n| self.auth(n)).unwrap_or_default();
        let render = self.render(&fields, node, &paths, &namespace, name.as_deref());
        // A chart's release namespace is where its objects without one go.
        let namespace = match &render {
            Render::Helm(h) if fields.get("namespace").is_none() => h.namespace.clone(),
            _ => namespace,
        };
        let render_timeout = match fields.get("render_timeout") {
            Some(t) => self
                .bounded_duration(t, "source.render_timeout", Duration::from_secs(3600))
                .unwrap_or(DEFAULT_RENDER_TIMEOUT),
            None => DEFAULT_RENDER_TIMEOUT,
        };
        if let (Some(RepoLocation::Local(_)), true) =
            (&repo, auth.token.is_some() || auth.ssh_key_file.is_some())
        {
            let at = fields.get("auth").unwrap_or(node);
            self.error(at, "source.auth applies to remote repositories only");
        }
        if let Some(RepoLocation::Remote(url)) = &repo
            && url.to_ascii_lowercase().starts_with("http://")
            && (auth.token.is_some() || url_has_userinfo(url))
        {
            let at = fields.get("repo").unwrap_or(node);
            self.error(
                at,
                "credentials are only sent over https://, never in clear text over http://",
            );
        }
        // For rendered sources `paths` names kustomizations, not globs of manifests.
        let paths = if matches!(render, Render::Plain) {
            paths
        } else {
            Vec::new()
        };
        let waivers = fields
            .get("waivers")
            .and_then(|n| self.repo_path(n, "source.waivers"));
        if waivers.is_some() && matches!(repo, Some(RepoLocation::StateFile(_))) {
            self.error(
                node,
                "source.waivers needs a repository (`repo`), not `terraform_state`",
            );
        }
        Some(Source {
            name: name?,
            repo: repo?,
            git_ref,
            region,
            waivers,
            render,
            render_timeout,
            paths,
            exclude,
            target: target?,
            namespace,
            auth,
            line: node.line,
        })
    }

    /// A path inside the repository: relative, without `..`, `/`-separated.
    pub(super) fn repo_path(&mut self, node: &Node, what: &str) -> Option<String> {
        let raw = self.string(node, what)?;
        let trimmed = raw.trim_start_matches("./").trim_end_matches('/');
        let escapes = Path::new(trimmed).components().any(|c| {
            !matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        });
        if escapes || trimmed.is_empty() && raw != "." {
            self.error(
                node,
                format!("{what} must be a path inside the repository (relative, without `..`)"),
            );
            return None;
        }
        Some(if trimmed.is_empty() {
            ".".to_string()
        } else {
            trimmed.to_string()
        })
    }

    pub(super) fn render(
        &mut self,
        fields: &Fields<'_>,
        node: &Node,
        paths: &[String],
        namespace: &str,
        name: Option<&str>,
    ) -> Render {
        let kind = self.optional(fields, "render", "source");
        for (block, wanted) in [("kustomize", "kustomize"), ("helm", "helm")] {
            if let Some(n) = fields.get(block)
                && kind.as_deref() != Some(wanted)
            {
                self.missing(n, format!("source.{block} needs `render: {wanted}`"));
            }
        }
        let mut targets = Vec::new();
        if let Some(n) = fields.get("path")
            && let Some(p) = self.repo_path(n, "source.path")
        {
            targets.push(p);
        }
        match kind.as_deref() {
            None => {
                if let Some(n) = fields.get("path") {
                    self.missing(n, "source.path needs `render: kustomize` or `render: helm`");
                }
                Render::Plain
            }
            Some("kustomize") => {
                if let Some(list) = fields.get("paths") {
                    for raw in paths {
                        let item = Node {
                            kind: NodeKind::Str(raw.clone()),
                            ..list.clone()
                        };
                        if let Some(p) = self.repo_path(&item, "source.paths") {
                            targets.push(p);
                        }
                    }
                }
                if targets.is_empty() {
                    self.missing(
                        node,
                        "render: kustomize needs `path` or `paths` (kustomization folders)",
                    );
                }
                let mut settings = KustomizeSettings {
                    paths: targets,
                    binary: None,
                    args: Vec::new(),
                    allow_remote_bases: false,
                };
                if let Some(block) = fields.get("kustomize")
                    && let Some(k) = self.fields(block, "source.kustomize")
                {
                    settings.binary = self.optional(&k, "binary", "source.kustomize");
                    settings.args = k
                        .get("args")
                        .map(|n| self.string_list(n, "source.kustomize.args"))
                        .unwrap_or_default();
                    if let Some(flag) = k.get("allow_remote_bases") {
                        match flag.kind {
                            NodeKind::Bool(b) => settings.allow_remote_bases = b,
                            _ => self.error(
                                flag,
                                "source.kustomize.allow_remote_bases must be true or false",
                            ),
                        }
                    }
                }
                Render::Kustomize(settings)
            }
            Some("helm") => {
                if fields.get("paths").is_some() {
                    self.error(node, "render: helm takes one chart in `path`, not `paths`");
                }
                let Some(chart) = targets.into_iter().next() else {
                    self.missing(node, "render: helm needs `path` (the chart folder)");
                    return Render::Plain;
                };
                let mut settings = HelmSettings {
                    chart,
                    release: name.unwrap_or("release").to_string(),
                    namespace: namespace.to_string(),
                    values_files: Vec::new(),
                    values: None,
                    kube_version: None,
                    binary: "helm".to_string(),
                    args: Vec::new(),
                };
                if let Some(block) = fields.get("helm")
                    && let Some(h) = self.fields(block, "source.helm")
                {
                    if let Some(release) = self.optional(&h, "release", "source.helm") {
                        settings.release = release;
                    }
                    if let Some(ns) = self.optional(&h, "namespace", "source.helm") {
                        if !crate::model::names::is_dns_label(&ns) {
                            let at = h.get("namespace").unwrap_or(block);
                            self.error(
                                at,
                                format!("source.helm.namespace `{ns}` is not a namespace (lowercase letters, digits and `-`, at most 63)"),
                            );
                        }
                        settings.namespace = ns;
                    }
                    if let Some(list) = h.get("values_files") {
                        for raw in self.string_list(list, "source.helm.values_files") {
                            let item = Node {
                                kind: NodeKind::Str(raw),
                                ..list.clone()
                            };
                            if let Some(p) = self.repo_path(&item, "source.helm.values_files") {
                                settings.values_files.push(p);
                            }
                        }
                    }
                    if let Some(values) = h.get("values") {
                        match &values.kind {
                            NodeKind::Map(_) => settings.values = Some(node::to_json(values)),
                            other => self.error(
                                values,
                                format!(
                                    "source.helm.values must be a mapping, not {}",
                                    other.describe()
                                ),
                            ),
                        }
                    }
                    settings.kube_version = self.optional(&h, "kube_version", "source.helm");
                    if let Some(binary) = self.optional(&h, "binary", "source.helm") {
                        settings.binary = binary;
                    }
                    settings.args = h
                        .get("args")
                        .map(|n| self.string_list(n, "source.helm.args"))
                        .unwrap_or_default();
                }
                Render::Helm(settings)
            }
            Some(other) => {
                let at = fields.get("render").unwrap_or(node);
                self.error(
                    at,
                    format!("source.render must be `kustomize` or `helm`, not `{other}`"),
                );
                Render::Plain
            }
        }
    }

    pub(super) fn auth(&mut self, node: &Node) -> GitAuth {
        let Some(fields) = self.fields(node, "source.auth") else {
            return GitAuth::default();
        };
        let token_env = self.optional(&fields, "token_env", "source.auth");
        let token_file = fields
            .get("token_file")
            .and_then(|n| self.path(n, "source.auth.token_file"));
        if token_env.is_some() && token_file.is_some() {
            self.error(
                node,
                "source.auth takes `token_env` or `token_file`, not both",
            );
        }
        let token = token_env
            .map(SecretRef::Env)
            .or(token_file.map(SecretRef::File));
        let ssh_key_file = fields
            .get("ssh_key_file")
            .and_then(|n| self.path(n, "source.auth.ssh_key_file"));
        if token.is_some() && ssh_key_file.is_some() {
            self.error(node, "source.auth takes a token or an SSH key, not both");
        }
        GitAuth {
            token,
            username: self.optional(&fields, "username", "source.auth"),
            ssh_key_file,
            ssh_known_hosts_file: fields
                .get("ssh_known_hosts_file")
                .and_then(|n| self.path(n, "source.auth.ssh_known_hosts_file")),
        }
    }
}

/// Tells a URL from a local path. scp-like `user@host:path` counts as a URL.
pub(super) fn repo_location(base: &Path, raw: &str) -> RepoLocation {
    const SCHEMES: &[&str] = &["https://", "http://", "ssh://", "git://", "file://"];
    if SCHEMES
        .iter()
        .any(|s| raw.to_ascii_lowercase().starts_with(s))
    {
        return RepoLocation::Remote(raw.to_string());
    }
    if let Some((host, _)) = raw.split_once(':')
        && host.len() > 1
        && !host.contains('/')
        && !raw.starts_with('.')
    {
        return RepoLocation::Remote(raw.to_string());
    }
    RepoLocation::Local(resolve_path(base, raw))
}

fn url_has_userinfo(url: &str) -> bool {
    url.split_once("://")
        .and_then(|(_, rest)| rest.split('/').next())
        .is_some_and(|authority| authority.contains('@'))
}
