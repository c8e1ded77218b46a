//! Configuration: a YAML file validated into a typed [`Config`]. Every problem is reported at
//! once with file and line, unknown keys are refused (with a suggestion), and relative paths are
//! resolved against the folder that holds the configuration file.

pub mod audit;
pub mod node;
pub mod remediation;
pub mod service;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use globset::{Glob, GlobMatcher};

use crate::model::Selector;
use node::{Node, NodeKind};

/// The managers whose live-only fields count as drift: people changing objects by hand.
/// Creating managers (`kubectl-create`, `kubectl-run`, `kubectl-expose`) are left out on
/// purpose: the server records every defaulted field of a new object under its creator, so they
/// would turn defaults into drift.
pub const DEFAULT_IMPERATIVE_MANAGERS: &[&str] = &[
    "kubectl-edit",
    "kubectl-patch",
    "kubectl-set",
    "kubectl-label",
    "kubectl-annotate",
    "kubectl-scale",
    "kubectl-replace",
];

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
    /// Files larger than this are refused.
    pub max_file_bytes: u64,
    /// Upper bound on YAML nodes per file (defeats alias expansion bombs).
    pub max_nodes: usize,
    /// Upper bound on nesting depth.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 8 * 1024 * 1024,
            max_nodes: 1_000_000,
            max_depth: 64,
        }
    }
}

/// Targets read at once unless the configuration says otherwise.
pub const DEFAULT_CONCURRENCY: usize = 4;

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

/// A place whose live state is compared with git.
#[derive(Clone, Debug)]
pub struct Target {
    /// Unique name.
    pub name: String,
    /// How live state is read.
    pub live: LiveSettings,
    /// Which compliance packs and rules run on this target, in place of `audit`'s selection.
    pub audit: Option<audit::RuleSelection>,
    /// Its schedule under `serve`.
    pub schedule: service::TargetSchedule,
    /// Line in the configuration file.
    pub line: u64,
}

/// How a target's live state is read.
#[derive(Clone, Debug)]
pub enum LiveSettings {
    /// An offline folder (or file) of exported objects.
    Snapshot(PathBuf),
    /// A Kubernetes API server, read with get, list and watch only.
    Kubernetes(KubeSettings),
    /// AWS accounts and regions, read with Describe/Get/List calls only.
    Aws(AwsSettings),
}

/// How to reach and read one AWS account's EC2 state.
#[derive(Clone, Debug, PartialEq)]
pub struct AwsSettings {
    /// The target's name, for the metrics its read-only guard counts requests under.
    pub target: String,
    /// Regions to read; empty with `all_regions`: every region the account has enabled.
    pub regions: Vec<String>,
    /// Read every enabled region (DescribeRegions).
    pub all_regions: bool,
    /// Named profile of the shared config and credentials files.
    pub profile: Option<String>,
    /// Role to assume for this target (cross-account reads).
    pub role_arn: Option<String>,
    /// External id for the role, where its trust policy demands one.
    pub external_id: Option<String>,
    /// Endpoint override (an emulator, a private endpoint).
    pub endpoint_url: Option<String>,
    /// Describe calls in flight per region at most.
    pub concurrency: usize,
    /// Attempts per call (adaptive retry with backoff on throttling).
    pub max_attempts: u32,
    /// Items per page for calls that page (MaxResults).
    pub page_size: i32,
    /// Resource types to read; empty: every supported type.
    pub types: Vec<String>,
}

impl Default for AwsSettings {
    fn default() -> Self {
        AwsSettings {
            target: String::new(),
            regions: Vec::new(),
            all_regions: false,
            profile: None,
            role_arn: None,
            external_id: None,
            endpoint_url: None,
            concurrency: 4,
            max_attempts: 8,
            page_size: 1000,
            types: Vec::new(),
        }
    }
}

/// How to reach and read one Kubernetes cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct KubeSettings {
    /// The target's name, for the metrics its read-only guard counts requests under.
    pub target: String,
    /// Context in the kubeconfig; `None`: its current context.
    pub context: Option<String>,
    /// Kubeconfig file; `None`: `$KUBECONFIG` or `~/.kube/config`. Without both this and
    /// `context`, the in-cluster service account is used.
    pub kubeconfig: Option<PathBuf>,
    /// Timeout for one request (connect and read).
    pub timeout: Duration,
    /// Requests per second at most.
    pub qps: u32,
    /// Objects per list page.
    pub page_size: u32,
    /// How many times a 5xx or timed-out request is retried (with backoff).
    pub retries: u32,
    /// Kinds listed for unmanaged detection besides the kinds git declares, as `Kind` or
    /// `Kind.group`.
    pub unmanaged_kinds: Vec<String>,
    /// Namespaces searched for unmanaged objects besides those git declares objects in.
    pub unmanaged_namespaces: Vec<String>,
}

impl Default for KubeSettings {
    fn default() -> Self {
        KubeSettings {
            target: String::new(),
            context: None,
            kubeconfig: None,
            timeout: Duration::from_secs(30),
            qps: 50,
            page_size: 500,
            retries: 3,
            unmanaged_kinds: Vec::new(),
            unmanaged_namespaces: Vec::new(),
        }
    }
}

impl KubeSettings {
    /// Whether the in-cluster service account is used (no kubeconfig and no context named).
    pub fn in_cluster(&self) -> bool {
        self.context.is_none() && self.kubeconfig.is_none()
    }
}

/// How drift is judged.
#[derive(Clone, Debug)]
pub struct DriftSettings {
    /// Managers whose live-only fields are drift.
    pub imperative_managers: BTreeSet<String>,
    /// Ignore rules, in file order.
    pub ignore: Vec<IgnoreRule>,
    /// Live objects never reported as unmanaged, beyond the built-in system objects.
    pub unmanaged_exclude: Vec<Selector>,
}

impl Default for DriftSettings {
    fn default() -> Self {
        DriftSettings {
            imperative_managers: DEFAULT_IMPERATIVE_MANAGERS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            ignore: Vec::new(),
            unmanaged_exclude: Vec::new(),
        }
    }
}

/// An ignore rule: JSON Pointer paths (with `*` for any one segment) in selected objects, or
/// every field owned by the named managedFields managers.
#[derive(Clone, Debug)]
pub struct IgnoreRule {
    /// Line in the configuration file (stale rules are reported by it).
    pub line: u64,
    /// Which objects the rule applies to.
    pub selector: Selector,
    /// Pointer patterns, split into segments; a drift at or below one is ignored.
    pub paths: Vec<Vec<String>>,
    /// Managers whose fields are ignored.
    pub managers: Vec<String>,
}

impl IgnoreRule {
    /// A one-line description for reports.
    pub fn describe(&self) -> String {
        let mut what = Vec::new();
        if !self.paths.is_empty() {
            let paths: Vec<String> = self
                .paths
                .iter()
                .map(|segs| format!("/{}", segs.join("/")))
                .collect();
            what.push(format!("paths {}", paths.join(", ")));
        }
        if !self.managers.is_empty() {
            what.push(format!("managers {}", self.managers.join(", ")));
        }
        format!("{} in {}", what.join(" and "), self.selector.describe())
    }
}

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

/// One problem in a configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The configuration file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: u64,
    /// 1-based column.
    pub column: u64,
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
        let mut check = Checker {
            file: file.to_path_buf(),
            base: base.to_path_buf(),
            known: known.clone(),
            errors: Vec::new(),
        };
        let root = match node::parse(text) {
            Ok(root) => root,
            Err((line, message)) => {
                return Err(LoadError::Invalid(vec![ConfigError {
                    file: file.to_path_buf(),
                    line,
                    column: 1,
                    message: format!("invalid YAML: {message}"),
                }]));
            }
        };
        let config = check.config(&root);
        if check.errors.is_empty() {
            Ok(config)
        } else {
            check.errors.sort_by_key(|e| (e.line, e.column));
            Err(LoadError::Invalid(check.errors))
        }
    }

    /// The target with this name.
    pub fn target(&self, name: &str) -> Option<&Target> {
        self.targets.iter().find(|t| t.name == name)
    }
}

/// Walks the located tree, collecting every problem.
struct Checker {
    file: PathBuf,
    base: PathBuf,
    known: Known,
    errors: Vec<ConfigError>,
}

/// What a configuration is checked against beyond its own shape: the names the rest of gitdrift
/// knows (the AWS resource types the live providers read). Handed in by the caller
/// (`gitdrift::live::known()`), so that `config` depends on nothing but the model.
#[derive(Clone, Debug, Default)]
pub struct Known {
    /// AWS resource types that targets may name in `aws.types`.
    pub aws_types: Vec<&'static str>,
}

/// A mapping whose keys were checked against the allowed set.
struct Fields<'n> {
    node: &'n Node,
    entries: &'n [(Node, Node)],
}

impl<'n> Fields<'n> {
    /// The value of a key, even when it is null.
    fn present(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _)| matches!(&k.kind, NodeKind::Str(s) if s == key))
            .map(|(_, v)| v)
    }

    fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _)| matches!(&k.kind, NodeKind::Str(s) if s == key))
            .map(|(_, v)| v)
            .filter(|v| v.kind != NodeKind::Null)
    }
}

impl Checker {
    fn error(&mut self, node: &Node, message: impl Into<String>) {
        self.errors.push(ConfigError {
            file: self.file.clone(),
            line: node.line,
            column: node.column,
            message: message.into(),
        });
    }

    fn fields<'n>(&mut self, node: &'n Node, what: &str, allowed: &[&str]) -> Option<Fields<'n>> {
        let NodeKind::Map(entries) = &node.kind else {
            self.error(
                node,
                format!("{what} must be a mapping, not {}", node.kind.describe()),
            );
            return None;
        };
        for (key, _) in entries {
            match &key.kind {
                NodeKind::Str(k) if allowed.contains(&k.as_str()) => {}
                NodeKind::Str(k) => {
                    let hint = suggest(k, allowed)
                        .map(|s| format!("; did you mean `{s}`?"))
                        .unwrap_or_else(|| format!("; known keys: {}", allowed.join(", ")));
                    self.error(key, format!("unknown key `{k}` in {what}{hint}"));
                }
                other => self.error(
                    key,
                    format!("keys in {what} must be strings, not {}", other.describe()),
                ),
            }
        }
        Some(Fields { node, entries })
    }

    fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.kind {
            NodeKind::Str(s) if !s.trim().is_empty() => Some(s.clone()),
            NodeKind::Str(_) => {
                self.error(node, format!("{what} must not be empty"));
                None
            }
            other => {
                self.error(
                    node,
                    format!("{what} must be a string, not {}", other.describe()),
                );
                None
            }
        }
    }

    fn required(&mut self, fields: &Fields<'_>, key: &str, what: &str) -> Option<String> {
        match fields.get(key) {
            Some(node) => self.string(node, &format!("{what}.{key}")),
            None => {
                self.error(fields.node, format!("{what} needs `{key}`"));
                None
            }
        }
    }

    fn optional(&mut self, fields: &Fields<'_>, key: &str, what: &str) -> Option<String> {
        fields
            .get(key)
            .and_then(|node| self.string(node, &format!("{what}.{key}")))
    }

    fn string_list(&mut self, node: &Node, what: &str) -> Vec<String> {
        match &node.kind {
            NodeKind::Seq(items) => items
                .iter()
                .filter_map(|item| self.string(item, &format!("an entry of {what}")))
                .collect(),
            NodeKind::Str(s) => vec![s.clone()],
            other => {
                self.error(
                    node,
                    format!("{what} must be a list of strings, not {}", other.describe()),
                );
                Vec::new()
            }
        }
    }

    fn seq<'n>(&mut self, node: &'n Node, what: &str) -> &'n [Node] {
        match &node.kind {
            NodeKind::Seq(items) => items,
            other => {
                self.error(
                    node,
                    format!("{what} must be a list, not {}", other.describe()),
                );
                &[]
            }
        }
    }

    fn path(&mut self, node: &Node, what: &str) -> Option<PathBuf> {
        let raw = self.string(node, what)?;
        Some(resolve_path(&self.base, &raw))
    }

    fn glob(&mut self, node: &Node, what: &str) -> Option<GlobMatcher> {
        let raw = self.string(node, what)?;
        match Glob::new(&raw) {
            Ok(glob) => Some(glob.compile_matcher()),
            Err(err) => {
                self.error(node, format!("{what} is not a valid glob: {}", err.kind()));
                None
            }
        }
    }

    fn config(&mut self, root: &Node) -> Config {
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
            self.error(
                root,
                "configuration is empty; it needs `sources` and `targets`",
            );
            return config;
        }
        let Some(top) = self.fields(
            root,
            "the configuration",
            &[
                "sources",
                "targets",
                "drift",
                "limits",
                "git",
                "concurrency",
                "audit",
                "serve",
                "remediation",
            ],
        ) else {
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
            None => self.error(root, "the configuration needs `targets`"),
        }
        let mut names = BTreeMap::new();
        for target in &config.targets {
            if let Some(first) = names.insert(target.name.clone(), target.line) {
                let at = Node {
                    line: target.line,
                    column: 1,
                    kind: NodeKind::Null,
                };
                self.error(
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
                        self.error(
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
            None => self.error(root, "the configuration needs `sources`"),
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

    fn target(&mut self, node: &Node) -> Option<Target> {
        let fields = self.fields(
            node,
            "a target",
            &[
                "name",
                "snapshot",
                "kubernetes",
                "aws",
                "audit",
                "interval",
                "watch",
            ],
        )?;
        let schedule = self.target_schedule(&fields);
        let audit = fields.get("audit").and_then(|n| {
            let f = self.fields(
                n,
                "target.audit",
                &["packs", "include_rules", "exclude_rules"],
            )?;
            Some(self.selection(&f, "target.audit"))
        });
        let name = self.required(&fields, "name", "target");
        if let Some(name) = &name
            && name.contains(',')
        {
            self.error(
                node,
                format!(
                    "target name `{name}` must not contain `,` (the history lists targets with it)"
                ),
            );
        }
        let given: Vec<&str> = ["snapshot", "kubernetes", "aws"]
            .into_iter()
            .filter(|k| fields.present(k).is_some())
            .collect();
        let live = match given.as_slice() {
            ["snapshot"] => fields
                .get("snapshot")
                .and_then(|n| self.path(n, "target.snapshot"))
                .map(LiveSettings::Snapshot),
            ["kubernetes"] => fields
                .present("kubernetes")
                .and_then(|n| self.kubernetes(n))
                .map(LiveSettings::Kubernetes),
            ["aws"] => fields
                .get("aws")
                .and_then(|n| self.aws(n))
                .map(LiveSettings::Aws),
            [] => {
                self.error(
                    node,
                    "target needs a live state: `snapshot` (a folder of exported objects), `kubernetes` (a cluster) or `aws` (an account)",
                );
                None
            }
            _ => {
                self.error(
                    node,
                    format!(
                        "a target takes one of `snapshot`, `kubernetes`, `aws`, not {}",
                        given.join(" and ")
                    ),
                );
                None
            }
        };
        let name = name?;
        let mut live = live?;
        match &mut live {
            LiveSettings::Kubernetes(settings) => settings.target = name.clone(),
            LiveSettings::Aws(settings) => settings.target = name.clone(),
            LiveSettings::Snapshot(_) => {}
        }
        Some(Target {
            name,
            live,
            audit,
            schedule,
            line: node.line,
        })
    }

    fn aws(&mut self, node: &Node) -> Option<AwsSettings> {
        let mut settings = AwsSettings::default();
        let fields = self.fields(
            node,
            "target.aws",
            &[
                "regions",
                "profile",
                "role_arn",
                "external_id",
                "endpoint_url",
                "concurrency",
                "max_attempts",
                "page_size",
                "types",
            ],
        )?;
        match fields.get("regions") {
            Some(Node {
                kind: NodeKind::Str(all),
                ..
            }) if all == "all" => settings.all_regions = true,
            Some(regions) => settings.regions = self.string_list(regions, "target.aws.regions"),
            None => self.error(node, "target.aws needs `regions` (a list, or `all`)"),
        }
        settings.profile = self.optional(&fields, "profile", "target.aws");
        settings.role_arn = self.optional(&fields, "role_arn", "target.aws");
        if let Some(arn) = &settings.role_arn
            && !arn.starts_with("arn:")
        {
            let at = fields.get("role_arn").unwrap_or(node);
            self.error(
                at,
                "target.aws.role_arn must be a role ARN (arn:aws:iam::…:role/…)",
            );
        }
        settings.external_id = self.optional(&fields, "external_id", "target.aws");
        settings.endpoint_url = self.optional(&fields, "endpoint_url", "target.aws");
        for (key, max) in [
            ("concurrency", 64i64),
            ("max_attempts", 20),
            ("page_size", 1000),
        ] {
            if let Some(n) = fields.get(key) {
                match n.kind {
                    NodeKind::Int(v) if (1..=max).contains(&v) => match key {
                        "concurrency" => settings.concurrency = v as usize,
                        "max_attempts" => settings.max_attempts = v as u32,
                        _ => settings.page_size = v as i32,
                    },
                    _ => self.error(
                        n,
                        format!("target.aws.{key} must be a whole number from 1 to {max}"),
                    ),
                }
            }
        }
        if let Some(types) = fields.get("types") {
            for t in self.string_list(types, "target.aws.types") {
                if !self.known.aws_types.contains(&t.as_str()) {
                    let supported = self.known.aws_types.join(", ");
                    self.error(
                        types,
                        format!("target.aws.types: `{t}` is not a supported type ({supported})"),
                    );
                } else {
                    settings.types.push(t);
                }
            }
        }
        Some(settings)
    }

    fn kubernetes(&mut self, node: &Node) -> Option<KubeSettings> {
        let mut settings = KubeSettings::default();
        // `kubernetes: {}` (or an empty value) means in-cluster configuration.
        if node.kind == NodeKind::Null {
            return Some(settings);
        }
        let fields = self.fields(
            node,
            "target.kubernetes",
            &[
                "context",
                "kubeconfig",
                "timeout",
                "qps",
                "page_size",
                "retries",
                "unmanaged",
            ],
        )?;
        settings.context = self.optional(&fields, "context", "target.kubernetes");
        settings.kubeconfig = fields
            .get("kubeconfig")
            .and_then(|n| self.path(n, "target.kubernetes.kubeconfig"));
        if let Some(t) = fields.get("timeout") {
            match self.string_or_int(t).as_deref().and_then(parse_duration) {
                Some(d) if !d.is_zero() => settings.timeout = d,
                _ => self.error(
                    t,
                    "target.kubernetes.timeout must be a duration such as 30s",
                ),
            }
        }
        for (key, slot, max) in [
            ("qps", &mut settings.qps, 10_000),
            ("page_size", &mut settings.page_size, 10_000),
            ("retries", &mut settings.retries, 20),
        ] {
            if let Some(n) = fields.get(key) {
                match n.kind {
                    NodeKind::Int(v) if (0..=max).contains(&v) => *slot = v as u32,
                    _ => self.errors.push(ConfigError {
                        file: self.file.clone(),
                        line: n.line,
                        column: n.column,
                        message: format!(
                            "target.kubernetes.{key} must be a whole number up to {max}"
                        ),
                    }),
                }
            }
        }
        if settings.qps == 0 || settings.page_size == 0 {
            self.error(
                node,
                "target.kubernetes.qps and page_size must be at least 1",
            );
        }
        if let Some(unmanaged) = fields.get("unmanaged")
            && let Some(u) = self.fields(
                unmanaged,
                "target.kubernetes.unmanaged",
                &["kinds", "namespaces"],
            )
        {
            settings.unmanaged_kinds = u
                .get("kinds")
                .map(|n| self.string_list(n, "target.kubernetes.unmanaged.kinds"))
                .unwrap_or_default();
            settings.unmanaged_namespaces = u
                .get("namespaces")
                .map(|n| self.string_list(n, "target.kubernetes.unmanaged.namespaces"))
                .unwrap_or_default();
        }
        Some(settings)
    }

    fn source(&mut self, node: &Node, targets: &BTreeMap<String, u64>) -> Option<Source> {
        let fields = self.fields(
            node,
            "a source",
            &[
                "name",
                "repo",
                "ref",
                "paths",
                "exclude",
                "target",
                "namespace",
                "auth",
                "render",
                "path",
                "kustomize",
                "helm",
                "render_timeout",
                "region",
                "terraform_state",
                "waivers",
            ],
        )?;
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
                self.error(node, "source needs `repo` (or `terraform_state`)");
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
        let auth = fields.get("auth").map(|n| self.auth(n)).unwrap_or_default();
        let render = self.render(&fields, node, &paths, &namespace, name.as_deref());
        // A chart's release namespace is where its objects without one go.
        let namespace = match &render {
            Render::Helm(h) if fields.get("namespace").is_none() => h.namespace.clone(),
            _ => namespace,
        };
        let render_timeout = match fields.get("render_timeout") {
            Some(t) => match self.string_or_int(t).as_deref().and_then(parse_duration) {
                Some(d) if !d.is_zero() => d,
                _ => {
                    self.error(
                        t,
                        "source.render_timeout must be a duration such as 60s or 2m",
                    );
                    DEFAULT_RENDER_TIMEOUT
                }
            },
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
    fn repo_path(&mut self, node: &Node, what: &str) -> Option<String> {
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

    fn render(
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
                self.error(n, format!("source.{block} needs `render: {wanted}`"));
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
                    self.error(n, "source.path needs `render: kustomize` or `render: helm`");
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
                    self.error(
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
                    && let Some(k) = self.fields(
                        block,
                        "source.kustomize",
                        &["binary", "args", "allow_remote_bases"],
                    )
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
                    self.error(node, "render: helm needs `path` (the chart folder)");
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
                    && let Some(h) = self.fields(
                        block,
                        "source.helm",
                        &[
                            "release",
                            "namespace",
                            "values_files",
                            "values",
                            "kube_version",
                            "binary",
                            "args",
                        ],
                    )
                {
                    if let Some(release) = self.optional(&h, "release", "source.helm") {
                        settings.release = release;
                    }
                    if let Some(ns) = self.optional(&h, "namespace", "source.helm") {
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

    fn auth(&mut self, node: &Node) -> GitAuth {
        let Some(fields) = self.fields(
            node,
            "source.auth",
            &[
                "token_env",
                "token_file",
                "username",
                "ssh_key_file",
                "ssh_known_hosts_file",
            ],
        ) else {
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

    fn drift(&mut self, node: &Node) -> DriftSettings {
        let mut drift = DriftSettings::default();
        let Some(fields) = self.fields(
            node,
            "drift",
            &["imperative_managers", "ignore", "unmanaged"],
        ) else {
            return drift;
        };
        if let Some(managers) = fields.get("imperative_managers") {
            drift.imperative_managers = self
                .string_list(managers, "drift.imperative_managers")
                .into_iter()
                .collect();
        }
        if let Some(ignore) = fields.get("ignore") {
            for item in self.seq(ignore, "drift.ignore") {
                if let Some(rule) = self.ignore_rule(item) {
                    drift.ignore.push(rule);
                }
            }
        }
        if let Some(unmanaged) = fields.get("unmanaged")
            && let Some(unmanaged) = self.fields(unmanaged, "drift.unmanaged", &["exclude"])
            && let Some(exclude) = unmanaged.get("exclude")
        {
            for item in self.seq(exclude, "drift.unmanaged.exclude") {
                if let Some(fields) = self.fields(
                    item,
                    "an entry of drift.unmanaged.exclude",
                    &["group", "kind", "namespace", "name", "target"],
                ) {
                    drift.unmanaged_exclude.push(self.selector(&fields));
                }
            }
        }
        drift
    }

    fn selector(&mut self, fields: &Fields<'_>) -> Selector {
        Selector {
            group: match fields.get("group") {
                Some(Node {
                    kind: NodeKind::Str(s),
                    ..
                }) => Some(s.clone()),
                Some(other) => {
                    self.error(other, "group must be a string (`\"\"` for the core group)");
                    None
                }
                None => None,
            },
            kind: self.optional(fields, "kind", "selector"),
            namespace: fields
                .get("namespace")
                .and_then(|n| self.glob(n, "selector.namespace")),
            name: fields
                .get("name")
                .and_then(|n| self.glob(n, "selector.name")),
            target: self.optional(fields, "target", "selector"),
        }
    }

    fn ignore_rule(&mut self, node: &Node) -> Option<IgnoreRule> {
        let fields = self.fields(
            node,
            "an ignore rule",
            &[
                "group",
                "kind",
                "namespace",
                "name",
                "target",
                "paths",
                "managers",
            ],
        )?;
        let selector = self.selector(&fields);
        let mut paths = Vec::new();
        if let Some(list) = fields.get("paths") {
            for pointer in self.string_list(list, "ignore.paths") {
                match crate::model::pointer::parse(&pointer) {
                    Ok(segments) => paths.push(segments),
                    Err(message) => self.error(list, format!("ignore.paths: {message}")),
                }
            }
        }
        let managers = fields
            .get("managers")
            .map(|n| self.string_list(n, "ignore.managers"))
            .unwrap_or_default();
        if fields.get("paths").is_none() && fields.get("managers").is_none() {
            self.error(node, "an ignore rule needs `paths` or `managers`");
            return None;
        }
        Some(IgnoreRule {
            line: node.line,
            selector,
            paths,
            managers,
        })
    }

    fn limits(&mut self, node: &Node) -> Limits {
        let mut limits = Limits::default();
        let Some(fields) = self.fields(node, "limits", &["max_file_size"]) else {
            return limits;
        };
        if let Some(size) = fields.get("max_file_size") {
            match &size.kind {
                NodeKind::Int(n) if *n > 0 => limits.max_file_bytes = *n as u64,
                NodeKind::Str(s) => match parse_size(s) {
                    Some(n) => limits.max_file_bytes = n,
                    None => self.error(
                        size,
                        format!("limits.max_file_size: `{s}` is not a size (e.g. 8MiB)"),
                    ),
                },
                other => self.error(
                    size,
                    format!(
                        "limits.max_file_size must be a size, not {}",
                        other.describe()
                    ),
                ),
            }
        }
        limits
    }

    fn git(&mut self, node: &Node) -> GitSettings {
        let mut git = GitSettings::default();
        let Some(fields) = self.fields(node, "git", &["fetch_timeout"]) else {
            return git;
        };
        if let Some(timeout) = fields.get("fetch_timeout") {
            match self
                .string_or_int(timeout)
                .as_deref()
                .and_then(parse_duration)
            {
                Some(d) if !d.is_zero() => git.fetch_timeout = d,
                _ => self.error(
                    timeout,
                    "git.fetch_timeout must be a duration such as 90s, 2m or 1h",
                ),
            }
        }
        git
    }

    fn string_or_int(&mut self, node: &Node) -> Option<String> {
        match &node.kind {
            NodeKind::Str(s) => Some(s.clone()),
            NodeKind::Int(n) => Some(format!("{n}s")),
            _ => None,
        }
    }
}

/// Resolves a path from the configuration: `~/` is the home folder, relative paths are relative
/// to the configuration file's folder.
fn resolve_path(base: &Path, raw: &str) -> PathBuf {
    if let Some(rest) = raw.strip_prefix("~/")
        && let Some(home) = dirs::home_dir()
    {
        return home.join(rest);
    }
    let path = Path::new(raw);
    if path.is_absolute() {
        clean(path)
    } else {
        clean(&base.join(path))
    }
}

/// Removes `.` and folds `..` into the preceding component, without touching the file system.
fn clean(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                let last = out.components().next_back();
                match last {
                    Some(Component::Normal(_)) => {
                        out.pop();
                    }
                    Some(Component::RootDir) => {}
                    _ => out.push(".."),
                }
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

/// Tells a URL from a local path. scp-like `user@host:path` counts as a URL.
fn repo_location(base: &Path, raw: &str) -> RepoLocation {
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

/// Parses `90s`, `2m`, `1h`, `1d` or a bare number of seconds.
pub fn parse_duration(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (digits, unit) = raw.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let seconds = match unit.trim() {
        "ms" => return Some(Duration::from_millis(n)),
        "" | "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(seconds))
}

fn parse_size(raw: &str) -> Option<u64> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (digits, unit) = raw.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let factor = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" | "KB" => 1024,
        "MiB" | "M" | "MB" => 1024 * 1024,
        "GiB" | "G" | "GB" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(factor).filter(|n| *n > 0)
}

/// The allowed key closest to a mistyped one, if any is close.
fn suggest<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|a| (strsim(key, a), *a))
        .filter(|(d, a)| *d <= 2.max(a.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

/// Levenshtein distance, small inputs only.
fn strsim(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(config.drift.ignore.len(), 2);
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
