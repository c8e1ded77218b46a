//! The judgement of one target: pairing what git declares with what runs, by identity, and
//! calling `diff` on each pair; finding the unmanaged. Kubernetes objects ([`kube`]) and AWS
//! resources ([`aws`]) are paired each their own way; [`scopes`] decides which kinds are
//! namespaced; [`watch`] keeps a watched target's judgement current object by object. Pure:
//! values in, values out; `scan` and `serve` do the reading.

pub mod aws;
pub mod kube;
pub mod scopes;
pub mod watch;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::diff::{Discount, Drift, Status, Verdict, ignore};
use crate::live::LiveRead;
use crate::model::aws::{GROUP as AWS_GROUP, is_aws};
use crate::model::{Declared, Object, Problem, ResourceKey, Severity, SourceRef};

pub use aws::judge_aws;
pub use kube::{Judge, JudgeMemo, judge_target};
pub use scopes::Scopes;

/// One resource's judgement.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ResourceReport {
    /// Target name.
    pub target: String,
    /// `apiVersion`, as declared (as live, for unmanaged resources).
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// Namespace; `null` for cluster-scoped resources.
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// The judgement.
    pub status: Status,
    /// Where git declares it; `null` for unmanaged resources.
    pub source: Option<SourceRef>,
    /// Why, where the status needs a reason (`kind not served by the cluster`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Fields that differ (empty unless drifted).
    pub drifts: Vec<Drift>,
    /// The manager behind the most recent of the drifts, where managedFields tell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_changed_by: Option<String>,
    /// When that manager wrote.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_changed_at: Option<String>,
    /// Differences between git and live that were not counted as drift, and why (at most
    /// [`crate::diff::MAX_DISCOUNTS`]); every live-only field too when explaining.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub discounted: Vec<Discount>,
    /// How many more were discounted than listed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub discounted_more: usize,
    /// Whether it works: read from the live object's status (`missing` when git declares it and
    /// nothing is live); absent for resources whose health is not judged (AWS, for now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<crate::health::Health>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl ResourceReport {
    /// A resource of `target` named by `key`, judged `status`; no source, reason or drifts yet.
    pub fn new(target: &str, api_version: &str, key: &ResourceKey, status: Status) -> Self {
        ResourceReport {
            target: target.to_string(),
            api_version: api_version.to_string(),
            kind: key.kind.clone(),
            namespace: key.namespace.clone(),
            name: key.name.clone(),
            status,
            source: None,
            reason: None,
            drifts: Vec::new(),
            last_changed_by: None,
            last_changed_at: None,
            discounted: Vec::new(),
            discounted_more: 0,
            health: None,
        }
    }

    /// The same resource with its verdict's drifts (drifted when there are any) and discounts,
    /// and the manager behind the most recent drift where managedFields tell.
    pub fn judged(mut self, verdict: Verdict) -> Self {
        let Verdict {
            drifts,
            discounted,
            discounted_more,
        } = verdict;
        self.discounted = discounted;
        self.discounted_more = discounted_more;
        self.status = if drifts.is_empty() {
            Status::InSync
        } else {
            Status::Drifted
        };
        let last = drifts
            .iter()
            .filter(|d| d.changed_by.is_some())
            .max_by(|a, b| a.changed_at.cmp(&b.changed_at));
        self.last_changed_by = last.and_then(|d| d.changed_by.clone());
        self.last_changed_at = last.and_then(|d| d.changed_at.clone());
        self.drifts = drifts;
        self
    }
}

/// The judgement of one target.
pub struct TargetJudgement {
    /// Resources, ordered by identity.
    pub resources: Vec<Arc<ResourceReport>>,
    /// Problems found while matching (duplicate live objects).
    pub problems: Vec<Problem>,
}

/// Orders resources by identity (kind, namespace, name).
pub fn sort_resources<R: std::borrow::Borrow<ResourceReport>>(resources: &mut [R]) {
    resources.sort_by(|a, b| identity_order(a.borrow(), b.borrow()));
}

/// The order of resources in a report: kind, namespace, name, apiVersion.
pub fn identity_order(a: &ResourceReport, b: &ResourceReport) -> std::cmp::Ordering {
    fn key(r: &ResourceReport) -> (&str, Option<&str>, &str, &str) {
        identity_key(&r.kind, r.namespace.as_deref(), &r.name, &r.api_version)
    }
    key(a).cmp(&key(b))
}

/// What resources are ordered by in a report ([`identity_order`]), for a judgement's memo to
/// order declarations before they are judged.
pub fn identity_key<'a>(
    kind: &'a str,
    namespace: Option<&'a str>,
    name: &'a str,
    api_version: &'a str,
) -> (&'a str, Option<&'a str>, &'a str, &'a str) {
    (kind, namespace, name, api_version)
}

/// A kind a target's live state could not be read for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnreadableKind {
    /// Target name.
    pub target: String,
    /// API group (`""` for the core group).
    pub group: String,
    /// Kind.
    pub kind: String,
    /// `forbidden` or `error`.
    pub reason: String,
    /// The server's message.
    pub message: String,
    /// Declared resources of this kind left unjudged.
    pub declared: usize,
}

/// Everything judged on one target.
pub struct Judged {
    /// Resources, ordered by identity: Kubernetes objects first, then AWS resources.
    pub resources: Vec<Arc<ResourceReport>>,
    /// Problems met while judging (objects declared twice, unreadable kinds, ambiguous tags).
    pub problems: Vec<Problem>,
    /// Kinds nothing can be said about.
    pub unreadable: Vec<UnreadableKind>,
    /// The live read that was judged (its problems are the reader's).
    pub live: LiveRead,
    /// With a memo, the fingerprint of each Kubernetes object of `live` (they come first,
    /// in order; AWS resources have none): the rules' memo takes them as they are.
    pub live_prints: Vec<u128>,
    /// What judged the Kubernetes objects: `serve` keeps a watched target's to judge single
    /// objects again between scans.
    pub judge: Arc<Judge>,
}

/// Judges one target: every declared object against the live read, then what runs undeclared.
/// `find_unmanaged` is false when a source could not be read (its objects would all look
/// unmanaged). AWS resources are judged apart: matched by id or tags, compared as the EC2 API
/// describes them. With a `memo` (`serve`'s re-scans), unchanged Kubernetes pairs reuse their
/// earlier judgement.
pub fn target(
    config: &Arc<Config>,
    target: &str,
    (declared, reads): (Vec<Declared>, Vec<u64>),
    mut live: LiveRead,
    find_unmanaged: bool,
    registry: &ignore::Registry<'_>,
    mut memo: Option<&mut JudgeMemo>,
) -> Judged {
    let aws_live: Vec<Object> = if live.objects.iter().any(|o| is_aws(&o.group)) {
        let (aws, objects) = std::mem::take(&mut live.objects)
            .into_iter()
            .partition(|o| is_aws(&o.group));
        live.objects = objects;
        aws
    } else {
        Vec::new()
    };
    // The last scan's judge, where git's side (the same reads) and the live evidence are the
    // same: git's side is not indexed again.
    let kept = memo
        .as_deref_mut()
        .and_then(|m| m.judge.take())
        .filter(|j| j.still_holds(config, &reads, find_unmanaged))
        .and_then(|judge| {
            let indexed = kube::index_live(&judge, &live, true);
            (indexed.evidence == judge.evidence).then_some((judge, indexed))
        });
    let (judge, indexed) = match kept {
        Some((judge, indexed)) => {
            if cfg!(debug_assertions) {
                let (kube, aws): (Vec<&Declared>, Vec<&Declared>) =
                    declared.iter().partition(|d| !is_aws(&d.object.group));
                assert_eq!(
                    judge.declarations_print(),
                    (
                        kube::declarations_print(kube.into_iter()),
                        kube::declarations_print(aws.into_iter())
                    ),
                    "a source read's objects changed without a new read number"
                );
            }
            (judge, indexed)
        }
        None => {
            // Split only where there is something to split: moving every object costs.
            let (aws_declared, declared): (Vec<Declared>, Vec<Declared>) =
                if declared.iter().any(|d| is_aws(&d.object.group)) {
                    declared.into_iter().partition(|d| is_aws(&d.object.group))
                } else {
                    (Vec::new(), declared)
                };
            let mut judge =
                Judge::unproven(Arc::clone(config), target, declared, &live, find_unmanaged);
            let indexed = kube::index_live(&judge, &live, memo.is_some());
            judge.evidence = indexed.evidence;
            judge.aws_declared = aws_declared;
            judge.reads = reads;
            (Arc::new(judge), indexed)
        }
    };
    let aws_declared = &judge.aws_declared;
    let mut problems = judge.problems.clone();
    let mut unreadable = Vec::new();
    for kind in &live.unreadable {
        problems.push(
            Problem::new(
                Severity::Error,
                kind.code,
                format!(
                    "{} is unreadable: {}: {}",
                    crate::live::kube::kind_label(&kind.gk),
                    kind.reason(),
                    kind.message
                ),
            )
            .target(target),
        );
        let aws_of_kind = aws_declared
            .iter()
            .filter(|d| d.object.kind == kind.gk.kind && kind.gk.group == AWS_GROUP)
            .count();
        unreadable.push(UnreadableKind {
            target: target.to_string(),
            group: kind.gk.group.clone(),
            kind: kind.gk.kind.clone(),
            reason: kind.reason().to_string(),
            message: kind.message.clone(),
            declared: judge.declared_of(&kind.gk) + aws_of_kind,
        });
    }
    // A memo compares each pair by fingerprints: each live object's is taken once, for the
    // pairs here and the rules after.
    let mut indexed = indexed;
    let live_prints = std::mem::take(&mut indexed.prints);
    let judged = judge_target(
        &judge,
        &live,
        (indexed, &live_prints),
        registry,
        memo.as_deref_mut(),
    );
    if let Some(memo) = memo {
        memo.judge = Some(Arc::clone(&judge));
    }
    let mut resources = judged.resources;
    problems.extend(judged.problems);
    if !aws_declared.is_empty() || !aws_live.is_empty() {
        let judged = judge_aws(
            config,
            target,
            aws_declared,
            &aws_live,
            &live,
            registry,
            find_unmanaged,
        );
        resources.extend(judged.resources);
        problems.extend(judged.problems);
    }
    live.objects.extend(aws_live);
    Judged {
        resources,
        problems,
        unreadable,
        live,
        live_prints,
        judge,
    }
}
