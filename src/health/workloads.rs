//! Deployments, StatefulSets, DaemonSets and ReplicaSets: a rollout observed, updated and
//! available, as `kubectl rollout status` judges it.

use serde_json::Value;

use super::{Health, condition, int, is, said, unobserved_strict as unobserved};

/// `spec.replicas`, 1 when absent (the server's default).
fn replicas(object: &Value) -> i64 {
    object
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

pub(super) fn deployment(d: &Value) -> Health {
    if d.pointer("/spec/paused").and_then(Value::as_bool) == Some(true) {
        return Health::suspended("the rollout is paused");
    }
    if let Some(health) = unobserved(d) {
        return health;
    }
    let progressing = condition(d, "Progressing");
    if let Some(c) = progressing
        && c.get("reason").and_then(Value::as_str) == Some("ProgressDeadlineExceeded")
    {
        return Health::degraded(format!(
            "the rollout exceeded its progress deadline ({})",
            said(c)
        ));
    }
    if let Some(c) = condition(d, "ReplicaFailure").filter(|c| is(Some(c), "True")) {
        return Health::degraded(format!("replicas cannot be created ({})", said(c)));
    }
    let wanted = replicas(d);
    let updated = int(d, "/status/updatedReplicas");
    let total = int(d, "/status/replicas");
    let available = int(d, "/status/availableReplicas");
    if updated < wanted {
        return Health::progressing(format!("{updated} of {wanted} replicas updated"));
    }
    if total > updated {
        return Health::progressing(format!(
            "{} old replicas pending termination",
            total - updated
        ));
    }
    if available < updated {
        return Health::progressing(format!(
            "{available} of {updated} updated replicas available"
        ));
    }
    Health::healthy(format!("{available} of {wanted} replicas available"))
}

pub(super) fn stateful_set(s: &Value) -> Health {
    if let Some(health) = unobserved(s) {
        return health;
    }
    let wanted = replicas(s);
    let ready = int(s, "/status/readyReplicas");
    if s.pointer("/spec/updateStrategy/type")
        .and_then(Value::as_str)
        == Some("OnDelete")
    {
        // Pods are replaced when someone deletes them: readiness is all that can be judged.
        return if ready < wanted {
            Health::progressing(format!("{ready} of {wanted} replicas ready (OnDelete)"))
        } else {
            Health::healthy(format!(
                "{ready} of {wanted} replicas ready; OnDelete: pods update when deleted"
            ))
        };
    }
    if let Some(partition) = s
        .pointer("/spec/updateStrategy/rollingUpdate/partition")
        .and_then(Value::as_i64)
        .filter(|p| *p > 0)
    {
        let updated = int(s, "/status/updatedReplicas");
        let expected = (wanted - partition).max(0);
        if updated < expected {
            return Health::progressing(format!(
                "{updated} of {expected} replicas above partition {partition} updated"
            ));
        }
        return if ready < wanted {
            Health::progressing(format!("{ready} of {wanted} replicas ready"))
        } else {
            Health::healthy(format!(
                "partitioned rollout: {updated} replicas above partition {partition} updated, {ready} ready"
            ))
        };
    }
    if ready < wanted {
        return Health::progressing(format!("{ready} of {wanted} replicas ready"));
    }
    let current = s.pointer("/status/currentRevision").and_then(Value::as_str);
    let update = s.pointer("/status/updateRevision").and_then(Value::as_str);
    if let (Some(current), Some(update)) = (current, update)
        && current != update
    {
        return Health::progressing(format!(
            "rolling out revision {update} ({} of {wanted} replicas updated)",
            int(s, "/status/updatedReplicas")
        ));
    }
    Health::healthy(format!("{ready} of {wanted} replicas ready"))
}

pub(super) fn daemon_set(d: &Value) -> Health {
    if let Some(health) = unobserved(d) {
        return health;
    }
    let desired = int(d, "/status/desiredNumberScheduled");
    let available = int(d, "/status/numberAvailable");
    if d.pointer("/spec/updateStrategy/type")
        .and_then(Value::as_str)
        == Some("OnDelete")
    {
        return if available < desired {
            Health::progressing(format!(
                "{available} of {desired} pods available (OnDelete)"
            ))
        } else {
            Health::healthy(format!(
                "{available} of {desired} pods available; OnDelete: pods update when deleted"
            ))
        };
    }
    let updated = int(d, "/status/updatedNumberScheduled");
    if updated < desired {
        return Health::progressing(format!("{updated} of {desired} pods updated"));
    }
    if available < desired {
        return Health::progressing(format!("{available} of {desired} updated pods available"));
    }
    Health::healthy(format!("{available} of {desired} pods available"))
}

pub(super) fn replica_set(r: &Value) -> Health {
    if let Some(health) = unobserved(r) {
        return health;
    }
    if let Some(c) = condition(r, "ReplicaFailure").filter(|c| is(Some(c), "True")) {
        return Health::degraded(format!("replicas cannot be created ({})", said(c)));
    }
    let wanted = replicas(r);
    let available = int(r, "/status/availableReplicas");
    if available < wanted {
        return Health::progressing(format!("{available} of {wanted} replicas available"));
    }
    Health::healthy(format!("{available} of {wanted} replicas available"))
}
