//! `drift:` — how drift is judged: which managers count as people editing by hand, which
//! fields to ignore where, and which live objects are never unmanaged.

use std::collections::BTreeSet;

use super::checker::{Checker, Fields};
use super::node::{Node, NodeKind};
use crate::model::Selector;

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

/// How drift is judged.
#[derive(Clone, Debug)]
pub struct DriftSettings {
    /// Managers whose live-only fields are drift.
    pub imperative_managers: BTreeSet<String>,
    /// Ignore rules, in file order, then the built-in rule for injections
    /// ([`injected_rule`]) unless `drift.ignore_injected: false`.
    pub ignore: Vec<IgnoreRule>,
    /// Lists of scalars compared as sets (order and repeats aside): the built-in ones
    /// ([`DEFAULT_UNORDERED`]) and the configuration's.
    pub unordered: Vec<Unordered>,
    /// Live objects never reported as unmanaged, beyond the built-in system objects.
    pub unmanaged_exclude: Vec<Selector>,
    /// List, per resource, every live-only field git does not declare and why it is not drift
    /// (`drift.explain`, or `scan --explain`); the discounted differences in git's own fields
    /// are listed always.
    pub explain: bool,
}

impl Default for DriftSettings {
    fn default() -> Self {
        DriftSettings {
            imperative_managers: DEFAULT_IMPERATIVE_MANAGERS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            ignore: vec![injected_rule()],
            unordered: default_unordered(),
            unmanaged_exclude: Vec::new(),
            explain: false,
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

/// Lists of scalars that are sets for the API that owns them, compared without order by
/// default: kind, group and JSON Pointer paths (`*` for any one segment).
pub const DEFAULT_UNORDERED: &[(&str, &str, &[&str])] = &[
    (
        "Certificate",
        "cert-manager.io",
        &[
            "/spec/dnsNames",
            "/spec/ipAddresses",
            "/spec/uris",
            "/spec/emailAddresses",
            "/spec/usages",
        ],
    ),
    ("Role", "rbac.authorization.k8s.io", RBAC_SETS),
    ("ClusterRole", "rbac.authorization.k8s.io", RBAC_SETS),
];

const RBAC_SETS: &[&str] = &[
    "/rules/*/verbs",
    "/rules/*/apiGroups",
    "/rules/*/resources",
    "/rules/*/resourceNames",
    "/rules/*/nonResourceURLs",
];

/// A list of scalars compared as a set in objects of one kind.
#[derive(Clone, Debug, PartialEq)]
pub struct Unordered {
    /// The kind.
    pub kind: String,
    /// Its API group (`""` for the core group).
    pub group: String,
    /// Pointer patterns of the lists, split into segments (`*` for any one segment).
    pub paths: Vec<Vec<String>>,
}

fn default_unordered() -> Vec<Unordered> {
    DEFAULT_UNORDERED
        .iter()
        .map(|(kind, group, paths)| Unordered {
            kind: kind.to_string(),
            group: group.to_string(),
            paths: paths
                .iter()
                .map(|p| crate::model::pointer::parse(p).unwrap_or_default())
                .collect(),
        })
        .collect()
}

/// Where a pod spec and its metadata are in the kinds that hold one: a workload's template, a
/// CronJob's job template, a Pod itself.
const POD_PLACES: &[(&str, &str)] = &[
    ("spec/template/spec", "spec/template/metadata"),
    (
        "spec/jobTemplate/spec/template/spec",
        "spec/jobTemplate/spec/template/metadata",
    ),
    ("spec", "metadata"),
];

/// What well-known injectors add to pod specs, below a pod spec: service-mesh sidecars and
/// init containers with their volumes (Istio, Linkerd, Consul), Vault's agent, Reloader's env
/// vars. Ignored unless `drift.ignore_injected: false`.
pub const INJECTED: &[&str] = &[
    "containers/[name=istio-proxy]",
    "containers/[name=linkerd-proxy]",
    "containers/[name=consul-dataplane]",
    "containers/[name=vault-agent]",
    "initContainers/[name=istio-init]",
    "initContainers/[name=istio-validation]",
    "initContainers/[name=linkerd-init]",
    "initContainers/[name=linkerd-network-validator]",
    "initContainers/[name=consul-connect-inject-init]",
    "initContainers/[name=vault-agent-init]",
    "volumes/[name=istio-*]",
    "volumes/[name=istiod-ca-cert]",
    "volumes/[name=workload-socket]",
    "volumes/[name=credential-socket]",
    "volumes/[name=workload-certs]",
    "volumes/[name=linkerd-*]",
    "volumes/[name=consul-connect-inject-data]",
    "volumes/[name=vault-secrets]",
    "containers/*/volumeMounts/[name=vault-secrets]",
    "containers/*/env/[name=STAKATER_*]",
];

/// What well-known injectors add to pod metadata (annotations and labels), below it.
pub const INJECTED_METADATA: &[&str] = &[
    "annotations/sidecar.istio.io~1status",
    "annotations/linkerd.io~1created-by",
    "annotations/linkerd.io~1proxy-version",
    "annotations/linkerd.io~1identity-mode",
    "annotations/linkerd.io~1trust-root-sha256",
    "annotations/consul.hashicorp.com~1connect-inject-status",
    "annotations/vault.hashicorp.com~1agent-inject-status",
    "annotations/reloader.stakater.com~1last-reloaded-from",
    "labels/security.istio.io~1tlsMode",
    "labels/service.istio.io~1canonical-name",
    "labels/service.istio.io~1canonical-revision",
    "labels/linkerd.io~1control-plane-ns",
    "labels/linkerd.io~1proxy-deployment",
    "labels/linkerd.io~1workload-ns",
];

/// The built-in ignore rule for injections (line 0: not in the configuration file).
pub fn injected_rule() -> IgnoreRule {
    let mut paths = Vec::new();
    for (spec, metadata) in POD_PLACES {
        for (base, list) in [(spec, INJECTED), (metadata, INJECTED_METADATA)] {
            for path in list {
                let pointer = format!("/{base}/{path}");
                paths.push(crate::model::pointer::parse(&pointer).unwrap_or_default());
            }
        }
    }
    IgnoreRule {
        line: 0,
        selector: Selector::default(),
        paths,
        managers: Vec::new(),
    }
}

impl IgnoreRule {
    /// Whether this is the built-in rule for injections rather than one of the configuration.
    pub fn is_builtin(&self) -> bool {
        self.line == 0
    }

    /// A one-line description for reports.
    pub fn describe(&self) -> String {
        if self.is_builtin() {
            return "what service meshes, Vault's agent and Reloader inject into pod specs".into();
        }
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

impl Checker {
    pub(super) fn drift(&mut self, node: &Node) -> DriftSettings {
        let mut drift = DriftSettings::default();
        let Some(fields) = self.fields(node, "drift") else {
            return drift;
        };
        // The configuration's rules first; the built-in one, unless turned off, after them.
        drift.ignore.clear();
        if let Some(managers) = fields.get("imperative_managers") {
            drift.imperative_managers = self
                .string_list(managers, "drift.imperative_managers")
                .into_iter()
                .collect();
        }
        if let Some(explain) = fields.get("explain") {
            drift.explain = self.boolean(explain, "drift.explain").unwrap_or(false);
        }
        if let Some(ignore) = fields.get("ignore") {
            for item in self.seq(ignore, "drift.ignore") {
                if let Some(rule) = self.ignore_rule(item) {
                    drift.ignore.push(rule);
                }
            }
        }
        if let Some(list) = fields.get("unordered") {
            for item in self.seq(list, "drift.unordered") {
                let Some(entry) = self.fields(item, "an entry of drift.unordered") else {
                    continue;
                };
                let kind = self.required(&entry, "kind", "drift.unordered entry");
                let group = match entry.get("group") {
                    Some(Node {
                        kind: NodeKind::Str(s),
                        ..
                    }) => s.clone(),
                    Some(other) => {
                        self.error(
                            other,
                            "drift.unordered.group must be a string (`\"\"` for the core group)",
                        );
                        continue;
                    }
                    None => String::new(),
                };
                let mut paths = Vec::new();
                match entry.get("paths") {
                    Some(list) => {
                        for pointer in self.string_list(list, "drift.unordered.paths") {
                            match crate::model::pointer::parse(&pointer) {
                                // A list is named by where it is: no element selectors.
                                Ok(segments) if segments.iter().any(|s| s.starts_with('[')) => self
                                    .error(
                                        list,
                                        format!(
                                            "drift.unordered.paths: {pointer} names list elements; name the list (`*` for any one segment)"
                                        ),
                                    ),
                                Ok(segments) => paths.push(segments),
                                Err(message) => {
                                    self.error(list, format!("drift.unordered.paths: {message}"))
                                }
                            }
                        }
                    }
                    None => self.missing(item, "a drift.unordered entry needs `paths`"),
                }
                if let Some(kind) = kind {
                    drift.unordered.push(Unordered { kind, group, paths });
                }
            }
        }
        let injected = fields
            .get("ignore_injected")
            .and_then(|n| self.boolean(n, "drift.ignore_injected"))
            .unwrap_or(true);
        if injected {
            drift.ignore.push(injected_rule());
        }
        if let Some(unmanaged) = fields.get("unmanaged")
            && let Some(unmanaged) = self.fields(unmanaged, "drift.unmanaged")
            && let Some(exclude) = unmanaged.get("exclude")
        {
            for item in self.seq(exclude, "drift.unmanaged.exclude") {
                if let Some(fields) = self.fields(item, "an entry of drift.unmanaged.exclude") {
                    drift.unmanaged_exclude.push(self.selector(&fields));
                }
            }
        }
        drift
    }

    pub(super) fn selector(&mut self, fields: &Fields<'_>) -> Selector {
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

    /// JSON Pointer patterns: segments, `*` for any one, `[key=glob]` for list elements.
    pub(super) fn pointer_patterns(&mut self, list: &Node, what: &str) -> Vec<Vec<String>> {
        let mut paths = Vec::new();
        for pointer in self.string_list(list, what) {
            match crate::model::pointer::parse(&pointer) {
                Ok(segments) => {
                    // `[key=glob]` selects list elements; anything else in brackets is a
                    // mistake, not a key.
                    if let Some(bad) = segments.iter().find(|s| {
                        s.starts_with('[') && crate::model::pointer::element_selector(s).is_none()
                    }) {
                        self.error(
                            list,
                            format!(
                                "{what}: `{bad}` in {pointer} is not a list element selector: write `[key=value]`, with `*` and `?` in the value"
                            ),
                        );
                        continue;
                    }
                    paths.push(segments)
                }
                Err(message) => self.error(list, format!("{what}: {message}")),
            }
        }
        paths
    }

    pub(super) fn ignore_rule(&mut self, node: &Node) -> Option<IgnoreRule> {
        let fields = self.fields(node, "an ignore rule")?;
        let selector = self.selector(&fields);
        let paths = fields
            .get("paths")
            .map(|list| self.pointer_patterns(list, "ignore.paths"))
            .unwrap_or_default();
        let managers = fields
            .get("managers")
            .map(|n| self.string_list(n, "ignore.managers"))
            .unwrap_or_default();
        if fields.get("paths").is_none() && fields.get("managers").is_none() {
            self.missing(node, "an ignore rule needs `paths` or `managers`");
            return None;
        }
        Some(IgnoreRule {
            line: node.line,
            selector,
            paths,
            managers,
        })
    }
}
