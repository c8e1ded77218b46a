//! The nouns every stage shares: how a resource is identified, where it came from, the object
//! itself, problems, severities, sides and output formats. Nothing here judges drift (that is
//! `diff`'s job) and nothing here imports anything else from the crate: this is the leaf every
//! other module builds on.

pub mod aws;
pub mod fingerprint;
mod format;
pub mod names;
pub mod pointer;
mod problem;
pub mod redact;
mod rules;
mod selector;

pub use format::Format;
pub use problem::{Code, Problem, Severity};
pub use rules::{RuleSeverity, Side};
pub use selector::Selector;

use std::borrow::Cow;
use std::fmt;

use serde_json::Value;

/// Identity of a Kubernetes object: API group, kind, namespace and name.
///
/// The version in `apiVersion` is deliberately not part of the identity: `autoscaling/v1` and
/// `autoscaling/v2` name the same HorizontalPodAutoscaler, as the API server sees it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceKey {
    /// API group; empty for the core group (`v1`).
    pub group: String,
    /// Kind, as in the manifest (`Deployment`).
    pub kind: String,
    /// Namespace; `None` for cluster-scoped objects.
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
}

impl ResourceKey {
    /// The group/kind pair, used for scope and for kind-wide rules.
    pub fn group_kind(&self) -> GroupKind {
        GroupKind {
            group: self.group.clone(),
            kind: self.kind.clone(),
        }
    }
}

impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            write!(f, "{}", self.kind)?;
        } else {
            write!(f, "{}.{}", self.kind, self.group)?;
        }
        match &self.namespace {
            Some(ns) => write!(f, " {}/{}", ns, self.name),
            None => write!(f, " {}", self.name),
        }
    }
}

/// An API group and kind, without a version.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKind {
    /// API group; empty for the core group.
    pub group: String,
    /// Kind.
    pub kind: String,
}

/// Splits an `apiVersion` into group and version (`apps/v1` → `apps`, `v1` → ``).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    }
}

/// Where a resource was read: a file (inside a git tree or a snapshot folder) and a 1-based line.
/// For rendered sources, the file the renderer names as the object's origin (a Kustomize
/// resource file, a Helm template), and what rendered it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// Path of the file, relative to the repository root or the snapshot folder.
    pub file: String,
    /// 1-based line where the object starts, where known.
    pub line: Option<u64>,
    /// The renderer and the kustomization or chart, for objects git holds only as a template.
    pub rendered: Option<Rendered>,
}

/// What produced a rendered object: remediation must edit the inputs, never the output.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rendered {
    /// `kustomize` or `helm`.
    pub tool: std::borrow::Cow<'static, str>,
    /// The kustomization folder or chart folder, relative to the repository root.
    pub path: String,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}", self.file),
            None => f.write_str(&self.file),
        }
    }
}

/// One Kubernetes object as read from a manifest or a snapshot, before scope is resolved.
#[derive(Clone, Debug)]
pub struct Object {
    /// `apiVersion` as written.
    pub api_version: String,
    /// API group, derived from `apiVersion`.
    pub group: String,
    /// `kind`.
    pub kind: String,
    /// `metadata.namespace`, if the object names one.
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
    /// The whole object.
    pub body: Body,
    /// Where it was read.
    pub origin: Origin,
    /// `metadata.ownerReferences` is present and not empty.
    pub owned: bool,
    /// Live objects: which fields the last `kubectl apply` set, as compact JSON — the shape of
    /// the `last-applied-configuration` annotation (which itself is dropped on reading: on a
    /// Secret it holds the values in plain text), values replaced by `true` but for list
    /// elements' merge keys. The evidence for fields removed from git.
    pub applied: Option<Box<str>>,
}

/// An object's content: a tree while it is being read and trimmed, then frozen into compact
/// JSON text. A `serde_json::Value` costs six to ten times the size of its JSON; a scan holds
/// every declared and live object at once, so stored objects are text, parsed again only when
/// judged (one object pair at a time).
#[derive(Clone, Debug)]
pub enum Body {
    /// A parsed tree.
    Tree(Value),
    /// Compact JSON text of a tree.
    Text(Frozen),
}

/// How compact JSON text starts a non-empty `managedFields` list.
const MANAGED_FIELDS: &str = "\"managedFields\":[{";

/// A frozen body's text, shared by every copy of its object (a watch cache's and a scan's), with
/// the fingerprint of its bytes taken once, when frozen: `serve`'s re-scans tell unchanged
/// objects from changed ones without hashing every object again. Immutable, so the fingerprint
/// cannot go stale.
#[derive(Clone, Debug)]
pub struct Frozen {
    text: std::sync::Arc<str>,
    print: u128,
    /// The text holds `managedFields` entries: looked up once, while the text is at hand,
    /// not in every scan's pass over every object.
    managed_fields: bool,
}

impl Frozen {
    /// Freezes a text.
    pub fn new(text: &str) -> Frozen {
        Frozen {
            print: fingerprint::Fingerprint::new().str(text).finish(),
            managed_fields: text.contains(MANAGED_FIELDS),
            text: text.into(),
        }
    }

    /// The fingerprint of the text (keyed as every [`fingerprint::Fingerprint`] is).
    pub fn print(&self) -> u128 {
        self.print
    }
}

impl std::ops::Deref for Frozen {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text
    }
}

impl From<&str> for Frozen {
    fn from(text: &str) -> Frozen {
        Frozen::new(text)
    }
}

impl Body {
    /// The content as a tree (parsed from text if frozen).
    pub fn value(&self) -> Cow<'_, Value> {
        match self {
            Body::Tree(value) => Cow::Borrowed(value),
            // The text was written by serde_json from a Value: it always parses.
            Body::Text(text) => Cow::Owned(serde_json::from_str(text).unwrap_or(Value::Null)),
        }
    }

    /// Turns the tree into compact text.
    pub fn freeze(&mut self) {
        if let Body::Tree(value) = self {
            let text = serde_json::to_string(value).unwrap_or_default();
            *self = Body::Text(Frozen::new(&text));
        }
    }

    /// The tree, for trimming before freezing; `None` once frozen.
    pub fn tree_mut(&mut self) -> Option<&mut Value> {
        match self {
            Body::Tree(value) => Some(value),
            Body::Text(_) => None,
        }
    }
}

impl Object {
    /// The identity this object has once its namespace is settled.
    pub fn key_with_namespace(&self, namespace: Option<String>) -> ResourceKey {
        ResourceKey {
            group: self.group.clone(),
            kind: self.kind.clone(),
            namespace,
            name: self.name.clone(),
        }
    }

    /// The content as a tree.
    pub fn value(&self) -> Cow<'_, Value> {
        self.body.value()
    }

    /// Whether the object carries `metadata.managedFields` entries, the evidence of who changed
    /// what: looked up without parsing a frozen body.
    pub fn has_managed_fields(&self) -> bool {
        match &self.body {
            Body::Tree(value) => value
                .pointer("/metadata/managedFields")
                .and_then(Value::as_array)
                .is_some_and(|entries| !entries.is_empty()),
            Body::Text(text) => text.managed_fields,
        }
    }
}

/// Removes what no comparison needs and no output may show, as soon as an object is read, from
/// git or from a live system: the `kubectl.kubernetes.io/last-applied-configuration` annotation
/// (bookkeeping that, on a Secret, holds its values in plain text).
pub fn drop_last_applied(value: &mut Value) {
    if let Some(annotations) = value
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        annotations.shift_remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

/// Whether a tree has a non-empty `metadata.ownerReferences`.
pub fn has_owner(value: &Value) -> bool {
    value
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| !refs.is_empty())
}

/// A declared resource, with the name of the source that declared it.
#[derive(Clone, Debug)]
pub struct Declared {
    /// Name of the configured source.
    pub source: String,
    /// The object, as git holds it.
    pub object: Object,
}

/// Whether a kind's objects live in a namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Objects carry a namespace.
    Namespaced,
    /// Objects are cluster-wide.
    Cluster,
}

/// Kinds that are cluster-scoped in Kubernetes and in widely deployed add-ons. Used when no API
/// discovery is at hand (snapshots); kinds seen in the live state or declared by a
/// CustomResourceDefinition in git extend it.
pub const CLUSTER_SCOPED_KINDS: &[(&str, &str)] = &[
    ("", "Namespace"),
    ("", "Node"),
    ("", "PersistentVolume"),
    ("", "ComponentStatus"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("storage.k8s.io", "StorageClass"),
    ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "VolumeAttachment"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("apiregistration.k8s.io", "APIService"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
    ),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
    ),
    ("networking.k8s.io", "IngressClass"),
    ("node.k8s.io", "RuntimeClass"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("cert-manager.io", "ClusterIssuer"),
    ("kyverno.io", "ClusterPolicy"),
    ("external-secrets.io", "ClusterSecretStore"),
    ("gateway.networking.k8s.io", "GatewayClass"),
];

/// Where a resource is declared, as reports name it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SourceRef {
    /// The configured source's name.
    pub name: String,
    /// File, relative to the repository root (for rendered objects: the file the renderer names).
    pub file: String,
    /// 1-based line where the object starts; `null` where the renderer does not tell.
    pub line: Option<u64>,
    /// For objects produced by Kustomize or Helm: the tool and the kustomization or chart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rendered: Option<Rendered>,
}

impl SourceRef {
    /// The reference to where a declared object was read.
    pub fn of(declared: &Declared) -> SourceRef {
        SourceRef {
            name: declared.source.clone(),
            file: declared.object.origin.file.clone(),
            line: declared.object.origin.line,
            rendered: declared.object.origin.rendered.clone(),
        }
    }

    /// `file:line`, or the file alone where the line is not known.
    pub fn place(&self) -> String {
        match self.line {
            Some(line) => format!("{}:{line}", self.file),
            None => self.file.clone(),
        }
    }
}

/// `namespace/name`, or the name alone for cluster-scoped resources.
pub fn resource_name(namespace: &Option<String>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    }
}

/// Where an optional declaration is, as `file:line` (empty when there is none).
pub fn place(source: &Option<SourceRef>) -> String {
    source.as_ref().map(SourceRef::place).unwrap_or_default()
}
