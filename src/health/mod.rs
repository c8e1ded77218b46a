//! Is what git declares actually working? The health of a live object, read from its status the
//! way the field reads it (Argo CD's health assessment, kstatus): `healthy`, `progressing`,
//! `degraded`, `suspended` or `unknown`, with a one-line reason; `missing` for a declaration
//! with nothing live. Pure: an object in, a verdict out. One file per kind family; kinds without
//! a notion of status are healthy when they exist, custom resources are read by their
//! kstatus-style conditions, AWS resources by their state and an instance's status checks.

mod aws;
mod batch;
mod generic;
mod network;
mod pods;
mod storage;
mod workloads;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The health of a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// Failing: a rollout past its deadline, a crash-looping container, a failed Job.
    Degraded,
    /// Declared in git, not live.
    Missing,
    /// On its way: a rollout, a Job running, a claim waiting for a volume.
    Progressing,
    /// Paused or suspended on purpose.
    Suspended,
    /// Its status says nothing that can be judged.
    Unknown,
    /// Working as declared.
    Healthy,
}

impl HealthStatus {
    /// The status as written in reports and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "healthy",
            HealthStatus::Progressing => "progressing",
            HealthStatus::Degraded => "degraded",
            HealthStatus::Suspended => "suspended",
            HealthStatus::Unknown => "unknown",
            HealthStatus::Missing => "missing",
        }
    }
}

/// A health verdict and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// The verdict.
    pub status: HealthStatus,
    /// One line: what in the status led to it.
    pub reason: String,
}

impl Health {
    /// A verdict with its reason on one line (condition messages may span several), at most
    /// 300 characters.
    fn new(status: HealthStatus, reason: impl Into<String>) -> Health {
        // Condition messages and AWS errors are the world's words: credentials scrubbed.
        let reason = crate::model::redact::scrub(&reason.into());
        let mut line = reason.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.chars().count() > 300 {
            line = line.chars().take(299).collect::<String>() + "…";
        }
        Health {
            status,
            reason: line,
        }
    }

    pub(crate) fn healthy(reason: impl Into<String>) -> Health {
        Health::new(HealthStatus::Healthy, reason)
    }

    pub(crate) fn progressing(reason: impl Into<String>) -> Health {
        Health::new(HealthStatus::Progressing, reason)
    }

    pub(crate) fn degraded(reason: impl Into<String>) -> Health {
        Health::new(HealthStatus::Degraded, reason)
    }

    pub(crate) fn suspended(reason: impl Into<String>) -> Health {
        Health::new(HealthStatus::Suspended, reason)
    }

    pub(crate) fn unknown(reason: impl Into<String>) -> Health {
        Health::new(HealthStatus::Unknown, reason)
    }

    /// A declared resource with nothing live.
    pub fn missing() -> Health {
        Health::new(HealthStatus::Missing, "declared in git, not live")
    }
}

/// The health of a live object of `group`/`kind`: a Kubernetes object, or an AWS resource
/// (group `aws`) as the EC2 API describes it.
pub fn of(group: &str, kind: &str, object: &Value) -> Health {
    if crate::model::aws::is_aws(group) {
        return aws::of(kind, object);
    }
    if let Some(at) = object
        .pointer("/metadata/deletionTimestamp")
        .and_then(Value::as_str)
    {
        return Health::progressing(format!("being deleted since {at}"));
    }
    match (group, kind) {
        ("apps", "Deployment") => workloads::deployment(object),
        ("apps", "StatefulSet") => workloads::stateful_set(object),
        ("apps", "DaemonSet") => workloads::daemon_set(object),
        ("apps", "ReplicaSet") => workloads::replica_set(object),
        ("", "Pod") => pods::pod(object),
        ("batch", "Job") => batch::job(object),
        ("batch", "CronJob") => batch::cron_job(object),
        ("", "PersistentVolumeClaim") => storage::claim(object),
        ("", "Service") => network::service(object),
        ("networking.k8s.io", "Ingress") => network::ingress(object),
        ("autoscaling", "HorizontalPodAutoscaler") => generic::autoscaler(object),
        ("apiregistration.k8s.io", "APIService") => generic::api_service(object),
        ("", "Namespace") => generic::namespace(object),
        _ => generic::conditions(object),
    }
}

/// A status field as an integer (0 when absent).
pub(crate) fn int(object: &Value, pointer: &str) -> i64 {
    object.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

/// The condition of `kind` in `status.conditions`, if present.
pub(crate) fn condition<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    object
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
}

/// A condition's status (`True`, `False`, `Unknown`).
pub(crate) fn is(condition: Option<&Value>, status: &str) -> bool {
    condition
        .and_then(|c| c.get("status"))
        .and_then(Value::as_str)
        == Some(status)
}

/// `reason: message` of a condition, as far as it says.
pub(crate) fn said(condition: &Value) -> String {
    let text = |k: &str| condition.get(k).and_then(Value::as_str).unwrap_or("");
    match (text("reason"), text("message")) {
        ("", "") => "no reason given".to_string(),
        (reason, "") => reason.to_string(),
        ("", message) => message.to_string(),
        (reason, message) => format!("{reason}: {message}"),
    }
}

/// Progressing while the controller has not seen the latest spec (`observedGeneration` behind
/// `metadata.generation`). A custom resource without `observedGeneration` is taken as seen
/// (many controllers never set it).
pub(crate) fn unobserved(object: &Value) -> Option<Health> {
    let generation = object.pointer("/metadata/generation")?.as_i64()?;
    let observed = object
        .pointer("/status/observedGeneration")
        .and_then(Value::as_i64)?;
    behind(generation, observed)
}

/// As [`unobserved`], for the built-in workload controllers, which always set
/// `observedGeneration`: without it, nothing has been observed yet (as `kubectl rollout status`
/// judges).
pub(crate) fn unobserved_strict(object: &Value) -> Option<Health> {
    let generation = object.pointer("/metadata/generation")?.as_i64()?;
    let observed = int(object, "/status/observedGeneration");
    behind(generation, observed)
}

fn behind(generation: i64, observed: i64) -> Option<Health> {
    (observed < generation).then(|| {
        Health::progressing(format!(
            "the controller has not yet observed generation {generation} (it has seen {observed})"
        ))
    })
}

#[cfg(test)]
mod cases;
