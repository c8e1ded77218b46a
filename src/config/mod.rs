//! Configuration: a YAML file validated into a typed [`Config`], plain data that every other
//! layer reads. Each section (`sources`, `targets`, `drift`, `audit`, `serve`, `remediation`)
//! has its file, with its types beside their validation; [`checker`] reads them all. Every
//! problem is reported at once with file, line, column and code; unknown keys are refused (with
//! a suggestion); relative paths are resolved against the folder that holds the configuration
//! file. `config` imports nothing from the crate but `model`.

pub mod audit;
mod checker;
pub mod drift;
pub mod node;
pub mod remediation;
pub mod service;
pub mod sources;
pub mod targets;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::model::Code;
use checker::Checker;
use node::{Node, NodeKind};

pub use checker::{humanize, parse_duration};
pub use drift::{DEFAULT_IMPERATIVE_MANAGERS, DriftSettings, IgnoreRule};
pub use sources::{
    DEFAULT_RENDER_TIMEOUT, GitAuth, HelmSettings, KustomizeSettings, Render, RepoLocation,
    SecretRef, Source,
};
pub use targets::{AwsSettings, KubeSettings, LiveSettings, Target};

/// A validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// Where desired state comes from.
    pub sources: Vec<Source>,
    /// Where live state comes from.
    pub targets: Vec<Target>,
    /// How drift is judged.
    pub drift: DriftSettings,
    /// Bounds on input files.
    pub limits: Limits,
    /// Git access settings.
    pub git: GitSettings,
    /// How many targets (and sources) are read at once.
    pub concurrency: usize,
    /// Compliance rules and waivers.
    pub audit: audit::AuditSettings,
    /// How `gitdrift serve` runs.
    pub serve: service::ServeSettings,
    /// What git should adopt from the live state (`gitdrift remediate`).
    pub remediation: remediation::RemediationSettings,
}

/// Bounds on what one file may cost to read.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Files in git larger than this are refused (`limits.max_file_size`).
    pub max_file_bytes: u64,
    /// Snapshot files larger than this are refused (`limits.max_snapshot_file_size`): a cluster
    /// exported with `kubectl get -o json` is one large file, read object by object.
    pub max_snapshot_file_bytes: u64,
    /// Upper bound on YAML nodes per file (defeats alias expansion bombs).
    pub max_nodes: usize,
    /// Upper bound on nesting depth.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 8 * 1024 * 1024,
            max_snapshot_file_bytes: 2 * 1024 * 1024 * 1024,
            max_nodes: 1_000_000,
            max_depth: 64,
        }
    }
}

/// Targets read at once unless the configuration says otherwise.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// Git access settings.
#[derive(Clone, Debug)]
pub struct GitSettings {
    /// How long one clone or fetch may take before it is abandoned.
    pub fetch_timeout: Duration,
}

impl Default for GitSettings {
    fn default() -> Self {
        GitSettings {
            fetch_timeout: Duration::from_secs(120),
        }
    }
}

/// What a configuration is checked against beyond its own shape: the names the rest of gitdrift
/// knows (the AWS resource types the live providers read). Handed in by the caller
/// (`gitdrift::live::known()`), so that `config` depends on nothing but the model.
#[derive(Clone, Debug, Default)]
pub struct Known {
    /// AWS resource types that targets may name in `aws.types`.
    pub aws_types: Vec<&'static str>,
}

/// One problem in a configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The configuration file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: u64,
    /// 1-based column.
    pub column: u64,
    /// What class of problem.
    pub code: Code,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

/// All the problems found in a configuration file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read configuration {}: {cause}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why (shown in the message, not chained again).
        cause: std::io::Error,
    },
    /// The file was read but is not valid; every problem is listed.
    #[error("{}", render(.0))]
    Invalid(Vec<ConfigError>),
}

impl LoadError {
    /// The problem code: `config.unreadable`, or the first problem's.
    pub fn code(&self) -> Code {
        match self {
            LoadError::Read { .. } => Code::ConfigUnreadable,
            LoadError::Invalid(errors) => {
                errors.first().map_or(Code::ConfigInvalidValue, |e| e.code)
            }
        }
    }
}

fn render(errors: &[ConfigError]) -> String {
    let mut out = format!(
        "configuration has {} problem{}:",
        errors.len(),
        if errors.len() == 1 { "" } else { "s" }
    );
    for err in errors {
        out.push_str("\n  ");
        out.push_str(&err.to_string());
    }
    out
}

impl Config {
    /// Reads and validates a configuration file; `known` holds the names it may use.
    pub fn load(path: &Path, known: &Known) -> Result<Config, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|cause| LoadError::Read {
            path: path.to_path_buf(),
            cause,
        })?;
        let base = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        Config::from_str(&text, path, &base, known)
    }

    /// Validates configuration text; `file` names it in errors, `base` resolves relative paths.
    pub fn from_str(
        text: &str,
        file: &Path,
        base: &Path,
        known: &Known,
    ) -> Result<Config, LoadError> {
        let mut check = Checker::new(file, base, known.clone());
        let root = match node::parse(text) {
            Ok(root) => root,
            Err((line, message)) => {
                return Err(LoadError::Invalid(vec![ConfigError {
                    file: file.to_path_buf(),
                    line,
                    column: 1,
                    code: Code::ConfigSyntax,
                    message: format!("invalid YAML: {message}"),
                }]));
            }
        };
        let config = check.config(&root);
        if check.failed() {
            Err(LoadError::Invalid(check.into_errors()))
        } else {
            Ok(config)
        }
    }

    /// The target with this name.
    pub fn target(&self, name: &str) -> Option<&Target> {
        self.targets.iter().find(|t| t.name == name)
    }
}

impl Checker {
    pub(super) fn config(&mut self, root: &Node) -> Config {
        let mut config = Config {
            path: self.file.clone(),
            sources: Vec::new(),
            targets: Vec::new(),
            drift: DriftSettings::default(),
            limits: Limits::default(),
            git: GitSettings::default(),
            concurrency: DEFAULT_CONCURRENCY,
            audit: audit::AuditSettings::default(),
            serve: service::ServeSettings::default(),
            remediation: remediation::RemediationSettings::default(),
        };
        if root.kind == NodeKind::Null {
            self.missing(
                root,
                "configuration is empty; it needs `sources` and `targets`",
            );
            return config;
        }
        let Some(top) = self.fields(root, "the configuration") else {
            return config;
        };
        match top.get("targets") {
            Some(node) => {
                for item in self.seq(node, "targets") {
                    if let Some(target) = self.target(item) {
                        config.targets.push(target);
                    }
                }
            }
            None => self.missing(root, "the configuration needs `targets`"),
        }
        let mut names = BTreeMap::new();
        for target in &config.targets {
            if let Some(first) = names.insert(target.name.clone(), target.line) {
                let at = Node {
                    line: target.line,
                    column: 1,
                    kind: NodeKind::Null,
                };
                self.duplicate(
                    &at,
                    format!(
                        "target `{}` is defined twice (first on line {first})",
                        target.name
                    ),
                );
            }
        }
        match top.get("sources") {
            Some(node) => {
                let mut seen = BTreeMap::new();
                for item in self.seq(node, "sources") {
                    let Some(source) = self.source(item, &names) else {
                        continue;
                    };
                    if let Some(first) = seen.insert(source.name.clone(), source.line) {
                        self.duplicate(
                            item,
                            format!(
                                "source `{}` is defined twice (first on line {first})",
                                source.name
                            ),
                        );
                    }
                    config.sources.push(source);
                }
            }
            None => self.missing(root, "the configuration needs `sources`"),
        }
        if let Some(node) = top.get("drift") {
            config.drift = self.drift(node);
        }
        if let Some(node) = top.get("limits") {
            config.limits = self.limits(node);
        }
        if let Some(node) = top.get("git") {
            config.git = self.git(node);
        }
        if let Some(node) = top.get("audit") {
            config.audit = self.audit(node, chrono::Utc::now().date_naive());
        }
        if let Some(node) = top.get("serve") {
            config.serve = self.serve(node);
        }
        if let Some(node) = top.get("remediation") {
            config.remediation = self.remediation(node);
        }
        if let Some(node) = top.get("concurrency") {
            match node.kind {
                NodeKind::Int(n) if (1..=256).contains(&n) => config.concurrency = n as usize,
                _ => self.error(node, "concurrency must be a whole number from 1 to 256"),
            }
        }
        config
    }

    pub(super) fn limits(&mut self, node: &Node) -> Limits {
        let mut limits = Limits::default();
        let Some(fields) = self.fields(node, "limits") else {
            return limits;
        };
        if let Some(n) = self.size(fields.get("max_file_size"), "limits.max_file_size") {
            limits.max_file_bytes = n;
        }
        match self.size(
            fields.get("max_snapshot_file_size"),
            "limits.max_snapshot_file_size",
        ) {
            Some(n) => limits.max_snapshot_file_bytes = n,
            // Never below the limit for files in git (a configuration that raised it to read a
            // large snapshot keeps reading it).
            None => {
                limits.max_snapshot_file_bytes =
                    limits.max_snapshot_file_bytes.max(limits.max_file_bytes)
            }
        }
        limits
    }

    pub(super) fn git(&mut self, node: &Node) -> GitSettings {
        let mut git = GitSettings::default();
        let Some(fields) = self.fields(node, "git") else {
            return git;
        };
        if let Some(timeout) = fields.get("fetch_timeout")
            && let Some(d) =
                self.bounded_duration(timeout, "git.fetch_timeout", Duration::from_secs(3600))
        {
            git.fetch_timeout = d;
        }
        git
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use checker::resolve_path;
    use sources::repo_location;

    fn load(text: &str) -> Result<Config, Vec<ConfigError>> {
        Config::from_str(
            text,
            Path::new("/etc/gitdrift/gitdrift.yaml"),
            Path::new("/etc/gitdrift"),
            &crate::live::known(),
        )
        .map_err(|e| match e {
            LoadError::Invalid(errors) => errors,
            other => panic!("{other}"),
        })
    }

    #[test]
    fn the_documented_shape_works_as_written() {
        let config = load(
            r#"
sources:
  - name: shop                 # unique
    repo: ./gitops             # local path, or a URL
    ref: main
    paths: ["apps/**", "platform/**"]
    target: lab
targets:
  - name: lab
    snapshot: ./live
"#,
        )
        .unwrap();
        let source = &config.sources[0];
        assert_eq!(source.name, "shop");
        assert_eq!(
            source.repo,
            RepoLocation::Local(PathBuf::from("/etc/gitdrift/gitops"))
        );
        assert_eq!(source.git_ref.as_deref(), Some("main"));
        assert_eq!(source.paths, vec!["apps/**", "platform/**"]);
        assert_eq!(source.namespace, "default");
        let LiveSettings::Snapshot(path) = &config.targets[0].live else {
            panic!("a snapshot target")
        };
        assert_eq!(path, &PathBuf::from("/etc/gitdrift/live"));
    }

    #[test]
    fn every_error_is_reported_at_once_with_lines() {
        let errors = load(
            r#"
sources:
  - name: shop
    repo: ./gitops
    refs: main
    target: nowhere
  - name: shop
    repo: git@github.com:org/repo.git
    target: lab
    paths: 3
targets:
  - name: lab
    snapshot: ./live
drift:
  ignore:
    - kind: Deployment
      paths: [spec/replicas]
    - kind: Deployment
surprise: true
"#,
        )
        .unwrap_err();
        let lines: Vec<(u64, &str)> = errors
            .iter()
            .map(|e| (e.line, e.message.as_str()))
            .collect();
        let find = |needle: &str| {
            lines
                .iter()
                .find(|(_, m)| m.contains(needle))
                .unwrap_or_else(|| panic!("no error containing {needle:?} in {lines:#?}"))
                .0
        };
        assert_eq!(find("unknown key `refs`"), 5);
        assert!(lines.iter().any(|(_, m)| m.contains("did you mean `ref`")));
        assert_eq!(find("target `nowhere`"), 6);
        assert_eq!(find("defined twice"), 7);
        assert_eq!(find("source.paths must be a list"), 10);
        assert_eq!(find("not a JSON Pointer"), 17);
        assert_eq!(find("needs `paths` or `managers`"), 18);
        assert_eq!(find("unknown key `surprise`"), 19);
        assert_eq!(errors.len(), 7, "{lines:#?}");
        assert!(
            errors[0]
                .to_string()
                .starts_with("/etc/gitdrift/gitdrift.yaml:5:")
        );
    }

    #[test]
    fn durations_are_range_checked_with_the_key_and_line() {
        let errors = load(
            "sources: []\ntargets:\n  - name: lab\n    snapshot: ./live\n    interval: 100000000d\n  - name: k\n    kubernetes:\n      timeout: 2h\ngit:\n  fetch_timeout: 99999999999999999999s\nserve:\n  retention:\n    max_age: 5000d\n",
        )
        .unwrap_err();
        let found: Vec<(u64, &str)> = errors
            .iter()
            .map(|e| (e.line, e.message.as_str()))
            .collect();
        assert_eq!(
            found,
            vec![
                (5, "target.interval must be at most 30d"),
                (8, "target.kubernetes.timeout must be at most 10m"),
                (
                    10,
                    "git.fetch_timeout must be a duration such as 90s, 5m or 1h"
                ),
                (13, "serve.retention.max_age must be at most 3650d"),
            ]
        );
    }

    #[test]
    fn repo_urls_are_told_from_paths() {
        let base = Path::new("/base");
        for url in [
            "https://example.com/org/repo.git",
            "ssh://git@example.com/org/repo.git",
            "git@github.com:org/repo.git",
            "file:///srv/git/repo.git",
            "git://127.0.0.1:9418/repo",
        ] {
            assert_eq!(
                repo_location(base, url),
                RepoLocation::Remote(url.to_string())
            );
        }
        assert_eq!(
            repo_location(base, "./gitops"),
            RepoLocation::Local(PathBuf::from("/base/gitops"))
        );
        assert_eq!(
            repo_location(base, "/abs/repo"),
            RepoLocation::Local(PathBuf::from("/abs/repo"))
        );
    }

    #[test]
    fn ignore_rules_and_auth_are_parsed() {
        let config = load(
            r#"
sources:
  - name: shop
    repo: https://git.example.com/shop.git
    target: lab
    namespace: shop
    auth:
      token_env: SHOP_GIT_TOKEN
targets:
  - name: lab
    snapshot: /live
drift:
  imperative_managers: [kubectl-edit]
  ignore:
    - group: apps
      kind: Deployment
      name: "web-*"
      paths: ["/spec/replicas", "/spec/template/spec/containers/*/image"]
    - managers: [kube-controller-manager]
  unmanaged:
    exclude:
      - kind: ConfigMap
        name: "*-generated"
limits:
  max_file_size: 1MiB
git:
  fetch_timeout: 30s
"#,
        )
        .unwrap();
        assert_eq!(
            config.sources[0].auth.token,
            Some(SecretRef::Env("SHOP_GIT_TOKEN".into()))
        );
        assert_eq!(
            config.drift.ignore.len(),
            3,
            "two configured, then the built-in one"
        );
        assert_eq!(
            config.drift.ignore[0].paths[1],
            vec!["spec", "template", "spec", "containers", "*", "image"]
        );
        assert_eq!(
            config.drift.ignore[1].managers,
            vec!["kube-controller-manager"]
        );
        assert_eq!(config.drift.imperative_managers.len(), 1);
        assert_eq!(config.limits.max_file_bytes, 1024 * 1024);
        assert_eq!(config.git.fetch_timeout, Duration::from_secs(30));
        assert_eq!(config.drift.unmanaged_exclude.len(), 1);
    }

    /// `drift.unordered` adds to the built-in sets; `ignore_injected: false` drops the built-in
    /// ignore rule; a bracketed segment that is not `[key=glob]`, or a selector where a list is
    /// named, is an error naming it.
    #[test]
    fn unordered_lists_injections_and_element_selectors_are_checked() {
        let base = "sources: [{name: s, repo: ., target: t}]\ntargets: [{name: t, snapshot: .}]\n";
        let config = load(&format!(
            "{base}drift:\n  ignore_injected: false\n  unordered:\n    - {{group: example.com, kind: Gateway, paths: [/spec/hosts]}}\n  ignore:\n    - paths: [\"/spec/containers/[name=log-*]\"]\n"
        ))
        .unwrap();
        assert!(config.drift.ignore.iter().all(|r| !r.is_builtin()));
        assert_eq!(config.drift.ignore[0].paths[0][2], "[name=log-*]");
        let gateway = config.drift.unordered.last().unwrap();
        assert_eq!(
            (gateway.kind.as_str(), gateway.group.as_str()),
            ("Gateway", "example.com")
        );
        assert!(
            config
                .drift
                .unordered
                .iter()
                .any(|u| u.kind == "ClusterRole"),
            "built-in ones stay"
        );
        let defaults = load(base).unwrap();
        assert!(defaults.drift.ignore.iter().any(IgnoreRule::is_builtin));
        let errors = load(&format!(
            "{base}drift:\n  ignore:\n    - paths: [\"/spec/containers/[name]\"]\n  unordered:\n    - {{kind: Role, paths: [\"/rules/[verbs=get]\"]}}\n"
        ))
        .unwrap_err();
        let shown: Vec<String> = errors.iter().map(|e| e.message.clone()).collect();
        assert!(shown.iter().any(|m| m.contains("`[name]`")), "{shown:?}");
        assert!(
            shown.iter().any(|m| m.contains("names list elements")),
            "{shown:?}"
        );
    }

    #[test]
    fn rendered_sources_are_parsed_and_checked() {
        let config = load(
            r#"
sources:
  - name: prod
    repo: ./gitops
    render: kustomize
    paths: [overlays/prod, ./overlays/staging/]
    target: t
    render_timeout: 90s
    kustomize:
      binary: kubectl
      args: ["--load-restrictor=LoadRestrictionsNone"]
  - name: chart
    repo: ./gitops
    render: helm
    path: charts/shop
    target: t
    helm:
      namespace: shop
      values_files: [env/prod.yaml]
      values: {replicaCount: 3, image: {tag: "1.2"}}
      kube_version: "1.31.0"
targets:
  - name: t
    snapshot: /x
"#,
        )
        .unwrap();
        let Render::Kustomize(k) = &config.sources[0].render else {
            panic!("kustomize expected")
        };
        assert_eq!(k.paths, vec!["overlays/prod", "overlays/staging"]);
        assert_eq!(k.binary.as_deref(), Some("kubectl"));
        assert_eq!(config.sources[0].render_timeout, Duration::from_secs(90));
        assert!(
            config.sources[0].paths.is_empty(),
            "kustomization paths are not globs"
        );
        let Render::Helm(h) = &config.sources[1].render else {
            panic!("helm expected")
        };
        assert_eq!(h.release, "chart");
        assert_eq!(h.chart, "charts/shop");
        assert_eq!(
            h.values,
            Some(serde_json::json!({"replicaCount": 3, "image": {"tag": "1.2"}}))
        );
        assert_eq!(
            config.sources[1].namespace, "shop",
            "the release namespace is the default"
        );

        let errors = load(
            "sources:\n  - name: a\n    repo: .\n    render: helm\n    target: t\n  - name: b\n    repo: .\n    render: kustomize\n    path: ../outside\n    target: t\n  - name: c\n    repo: .\n    helm: {release: x}\n    target: t\n  - name: d\n    repo: .\n    render: jsonnet\n    target: t\ntargets:\n  - name: t\n    snapshot: /x\n",
        )
        .unwrap_err();
        let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
        assert!(
            messages
                .iter()
                .any(|m| m.contains("render: helm needs `path`")),
            "{messages:?}"
        );
        assert!(
            messages.iter().any(|m| m.contains("inside the repository")),
            "{messages:?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("source.helm needs `render: helm`")),
            "{messages:?}"
        );
        assert!(
            messages.iter().any(|m| m.contains("not `jsonnet`")),
            "{messages:?}"
        );
    }

    #[test]
    fn kubernetes_targets_are_parsed() {
        let config = load(
            "sources: []\ntargets:\n  - name: prod\n    kubernetes:\n      context: prod-admin\n      kubeconfig: ./kubeconfig\n      timeout: 10s\n      qps: 20\n      page_size: 250\n      unmanaged:\n        kinds: [ConfigMap, Deployment.apps]\n        namespaces: [ops]\n  - name: here\n    kubernetes:\n",
        )
        .unwrap();
        let LiveSettings::Kubernetes(k) = &config.targets[0].live else {
            panic!("a kubernetes target")
        };
        assert_eq!(k.context.as_deref(), Some("prod-admin"));
        assert_eq!(
            k.kubeconfig,
            Some(PathBuf::from("/etc/gitdrift/kubeconfig"))
        );
        assert_eq!(k.timeout, Duration::from_secs(10));
        assert_eq!((k.qps, k.page_size, k.retries), (20, 250, 3));
        assert_eq!(k.unmanaged_kinds, vec!["ConfigMap", "Deployment.apps"]);
        let LiveSettings::Kubernetes(here) = &config.targets[1].live else {
            panic!("a kubernetes target")
        };
        assert!(here.in_cluster());
        let errors = load(
            "sources: []\ntargets:\n  - name: a\n    snapshot: x\n    kubernetes: {}\n  - name: b\n    kubernetes:\n      page_size: 0\n      contxt: x\n",
        )
        .unwrap_err();
        let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
        assert!(
            messages.iter().any(|m| m.contains("takes one of")),
            "{messages:?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("did you mean `context`")),
            "{messages:?}"
        );
        assert!(
            messages.iter().any(|m| m.contains("at least 1")),
            "{messages:?}"
        );
    }

    #[test]
    fn credentials_over_plain_http_are_refused() {
        let errors = load(
            "sources:\n  - name: s\n    repo: http://git.example.com/x.git\n    target: t\n    auth:\n      token_env: T\n  - name: u\n    repo: http://bot:pw@git.example.com/x.git\n    target: t\ntargets:\n  - name: t\n    snapshot: /x\n",
        )
        .unwrap_err();
        let lines: Vec<u64> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 8], "{errors:?}");
        assert!(errors[0].message.contains("only sent over https://"));
    }

    #[test]
    fn empty_and_malformed_files_are_errors() {
        assert!(load("").unwrap_err()[0].message.contains("empty"));
        let errors = load("sources: [\n").unwrap_err();
        assert!(errors[0].message.starts_with("invalid YAML"));
        let errors = load("- a\n- b\n").unwrap_err();
        assert!(errors[0].message.contains("must be a mapping"));
    }

    #[test]
    fn relative_paths_are_cleaned() {
        assert_eq!(
            resolve_path(Path::new("examples/demo"), "../.."),
            PathBuf::from(".")
        );
        assert_eq!(
            resolve_path(Path::new("a/b"), "../../../x"),
            PathBuf::from("../x")
        );
        assert_eq!(
            resolve_path(Path::new("/a"), "../../x"),
            PathBuf::from("/x")
        );
    }
}
