//! Live state: what actually runs. One submodule per provider; every provider only reads.
//! Providers return plain objects; matching and judging happen in `scan` and `diff`.

pub mod aws;
pub mod kube;
pub mod snapshot;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::config::Limits;
use crate::config::{Config, LiveSettings, Target};
use crate::model::{Code, Declared, GroupKind, Object, Problem, Scope};

/// The names the live providers know, for checking a configuration against them.
pub fn known() -> crate::config::Known {
    crate::config::Known {
        aws_types: aws::types::names(),
    }
}

/// Where the read-only guards count what they send and what they refuse: the service's metrics,
/// handed to each provider (never a global), so that two gitdrifts can share a process.
pub trait Recorder: Send + Sync + std::fmt::Debug {
    /// One request sent to a watched system, with its read verb and its response code.
    fn request(&self, target: &str, provider: &str, verb: &str, code: &str);
    /// A write refused before it was sent.
    fn refused(&self, target: &str, provider: &str);
}

/// What a scan needs from a live system: the kinds git declares, and the namespaces it declares
/// objects in. Providers that can choose what to read (Kubernetes) read only this; snapshots
/// hold what they hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiveRequest {
    /// Kinds to read.
    pub kinds: BTreeSet<GroupKind>,
    /// Namespaces of interest for namespaced kinds.
    pub namespaces: BTreeSet<String>,
}

impl LiveRequest {
    /// What reading `declared` objects' live counterparts needs: their kinds, and the namespaces
    /// they are in (an object's own, or its source's default).
    pub fn for_declared<'a>(
        config: &Config,
        declared: impl IntoIterator<Item = &'a Declared>,
    ) -> LiveRequest {
        let mut request = LiveRequest::default();
        for item in declared {
            let object = &item.object;
            request.kinds.insert(GroupKind {
                group: object.group.clone(),
                kind: object.kind.clone(),
            });
            let namespace = object.namespace.clone().unwrap_or_else(|| {
                config
                    .sources
                    .iter()
                    .find(|s| s.name == item.source)
                    .map_or_else(|| "default".to_string(), |s| s.namespace.clone())
            });
            request.namespaces.insert(namespace);
        }
        request
    }
}

/// A kind that could not be read (forbidden, throttled, or failing), so nothing can be said
/// about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreadable {
    /// The kind.
    pub gk: GroupKind,
    /// Why, as a problem code (`kube.forbidden`, `aws.throttled`).
    pub code: Code,
    /// The server's message.
    pub message: String,
}

impl Unreadable {
    /// The reason reports give: `forbidden`, `throttled` or `error`.
    pub fn reason(&self) -> &'static str {
        match self.code {
            Code::KubeForbidden | Code::AwsForbidden => "forbidden",
            Code::AwsThrottled => "throttled",
            _ => "error",
        }
    }
}

/// Trims a live object to what judging needs, as soon as it is read: the
/// last-applied-configuration annotation goes (see [`crate::model::drop_last_applied`]; its shape,
/// without values, stays as [`Object::applied`]), and each
/// managedFields entry's fieldsV1 tree is kept as compact JSON text, parsed again only for objects
/// that drift. Then the object is frozen into text (see [`crate::model::Body`]).
pub fn compact(object: &mut Object) {
    if let Some(value) = object.body.tree_mut() {
        object.applied = crate::diff::compare::applied_shape(value);
        crate::model::drop_last_applied(value);
        if let Some(entries) = value
            .pointer_mut("/metadata/managedFields")
            .and_then(serde_json::Value::as_array_mut)
        {
            for entry in entries {
                if let Some(fields) = entry.get_mut("fieldsV1")
                    && fields.is_object()
                {
                    let text = serde_json::to_string(fields).unwrap_or_default();
                    *fields = serde_json::Value::String(text);
                }
            }
        }
    }
    object.body.freeze();
}

/// What one target's live state read produced.
#[derive(Clone, Debug)]
pub struct LiveRead {
    /// Live objects.
    pub objects: Vec<Object>,
    /// Problems met while reading, each naming the target (and file, for snapshots).
    pub problems: Vec<Problem>,
    /// When the state was observed.
    pub observed_at: DateTime<Utc>,
    /// `false` when the read failed as a whole (nothing can be called missing then).
    pub complete: bool,
    /// Scope of each kind, where the provider knows it for certain (API discovery).
    pub scopes: BTreeMap<GroupKind, Scope>,
    /// Kinds the live system does not serve at all.
    pub unserved: BTreeSet<GroupKind>,
    /// Kinds that could not be read.
    pub unreadable: Vec<Unreadable>,
    /// The AWS (region, resource type) pairs read in full: only declarations there are judged.
    pub aws_read: BTreeSet<(String, String)>,
    /// Live objects that exist but could not be parsed (each with a warning): a declaration of
    /// one is not judged, rather than called missing.
    pub skipped: BTreeSet<crate::model::ResourceKey>,
    /// A cluster's OpenAPI v3 documents of the group versions read, pruned to what defaults
    /// need (`diff::defaults::prune`): the built-in kinds' and the custom resources' defaults as
    /// this cluster declares them.
    pub openapi: Vec<std::sync::Arc<serde_json::Value>>,
}

impl LiveRead {
    /// A read that failed as a whole, for this reason: nothing can be called missing.
    pub fn failed(problem: Problem) -> LiveRead {
        LiveRead {
            problems: vec![problem],
            complete: false,
            ..LiveRead::empty()
        }
    }

    /// An empty read, observed now.
    pub fn empty() -> LiveRead {
        LiveRead {
            objects: Vec::new(),
            problems: Vec::new(),
            observed_at: Utc::now(),
            complete: true,
            scopes: BTreeMap::new(),
            unserved: BTreeSet::new(),
            unreadable: Vec::new(),
            aws_read: BTreeSet::new(),
            skipped: BTreeSet::new(),
            openapi: Vec::new(),
        }
    }
}

/// A way of reading a target's live state.
#[derive(Clone, Debug)]
pub enum LiveProvider {
    /// Exported objects in a folder or file.
    Snapshot(snapshot::SnapshotProvider),
    /// A Kubernetes API server.
    Kubernetes(kube::KubeProvider),
    /// An AWS account.
    Aws(aws::AwsProvider),
}

impl LiveProvider {
    /// The provider a target's configuration names; its guards count requests in `recorder`.
    pub fn for_target(target: &Target, recorder: &Arc<dyn Recorder>) -> LiveProvider {
        match &target.live {
            LiveSettings::Snapshot(path) => {
                LiveProvider::Snapshot(snapshot::SnapshotProvider::new(path.clone()))
            }
            LiveSettings::Kubernetes(settings) => LiveProvider::Kubernetes(
                kube::KubeProvider::new(settings.clone(), Arc::clone(recorder)),
            ),
            LiveSettings::Aws(settings) => LiveProvider::Aws(aws::AwsProvider::new(
                settings.clone(),
                Arc::clone(recorder),
            )),
        }
    }

    /// The short word for a target's provider (`snapshot`, `kubernetes`, `aws`), without
    /// building one.
    pub fn kind_of(target: &Target) -> &'static str {
        match &target.live {
            LiveSettings::Snapshot(_) => "snapshot",
            LiveSettings::Kubernetes(_) => "kubernetes",
            LiveSettings::Aws(_) => "aws",
        }
    }

    /// A short word for reports: `snapshot`, `kubernetes`, `aws`.
    pub fn kind(&self) -> &'static str {
        match self {
            LiveProvider::Snapshot(_) => "snapshot",
            LiveProvider::Kubernetes(_) => "kubernetes",
            LiveProvider::Aws(_) => "aws",
        }
    }

    /// Where the state comes from, for reports.
    pub fn location(&self) -> String {
        match self {
            LiveProvider::Snapshot(p) => p.path().display().to_string(),
            LiveProvider::Kubernetes(p) => p.location(),
            LiveProvider::Aws(p) => p.location(),
        }
    }

    /// Reads the live state of `target` that `request` asks for.
    pub async fn read(&self, target: &str, request: &LiveRequest, limits: &Limits) -> LiveRead {
        match self {
            LiveProvider::Kubernetes(provider) => provider.read(target, request, limits).await,
            LiveProvider::Aws(provider) => provider.read(target).await,
            LiveProvider::Snapshot(provider) => {
                let provider = provider.clone();
                let target = target.to_string();
                let limits = limits.clone();
                let join =
                    tokio::task::spawn_blocking(move || provider.read(&target, &limits)).await;
                join.unwrap_or_else(|err| {
                    LiveRead::failed(Problem::new(
                        crate::model::Severity::Error,
                        Code::ScanInternal,
                        format!("snapshot reader failed: {err}"),
                    ))
                })
            }
        }
    }
}
