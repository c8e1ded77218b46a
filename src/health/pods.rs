//! Pods: their phase and their containers' states, where a crash loop or an image that cannot be
//! pulled shows long before any controller gives up.

use serde_json::Value;

use super::Health;

/// Whether a waiting reason means the container will not start without a change:
/// `CrashLoopBackOff`, `ImagePullBackOff`, `ErrImagePull`, `CreateContainerConfigError`,
/// `InvalidImageName`, … (as Argo CD reads them: `Err…`, `…Error`, `…BackOff`, `Invalid…`).
fn stuck(reason: &str) -> bool {
    reason.starts_with("Err")
        || reason.ends_with("Error")
        || reason.ends_with("BackOff")
        || reason.starts_with("Invalid")
        || reason == "RegistryUnavailable"
        || reason == "SignatureValidationFailed"
}

pub(super) fn pod(p: &Value) -> Health {
    let phase = p.pointer("/status/phase").and_then(Value::as_str);
    let statuses: Vec<&Value> = ["/status/initContainerStatuses", "/status/containerStatuses"]
        .iter()
        .filter_map(|at| p.pointer(at)?.as_array())
        .flatten()
        .collect();
    for s in &statuses {
        let name = s.get("name").and_then(Value::as_str).unwrap_or("?");
        if let Some(reason) = s
            .pointer("/state/waiting/reason")
            .and_then(Value::as_str)
            .filter(|r| stuck(r))
        {
            let message = s
                .pointer("/state/waiting/message")
                .and_then(Value::as_str)
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            return Health::degraded(format!("container {name}: {reason}{message}"));
        }
    }
    match phase {
        Some("Succeeded") => Health::healthy("completed"),
        Some("Failed") => match p.get("status") {
            Some(status) if status.get("reason").is_some() || status.get("message").is_some() => {
                Health::degraded(format!("failed: {}", super::said(status)))
            }
            _ => Health::degraded("failed: a container failed"),
        },
        Some("Pending") => {
            let unscheduled = p
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|c| {
                    c.get("type").and_then(Value::as_str) == Some("PodScheduled")
                        && c.get("status").and_then(Value::as_str) == Some("False")
                });
            match unscheduled {
                Some(c) => {
                    Health::progressing(format!("pending: not scheduled ({})", super::said(c)))
                }
                None => Health::progressing("pending"),
            }
        }
        Some("Running") => {
            let restart = p
                .pointer("/spec/restartPolicy")
                .and_then(Value::as_str)
                .unwrap_or("Always");
            if restart != "Always" {
                return Health::progressing(format!("running (restartPolicy {restart})"));
            }
            let containers = p
                .pointer("/status/containerStatuses")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let ready = containers
                .iter()
                .filter(|s| s.get("ready").and_then(Value::as_bool) == Some(true))
                .count();
            // The Ready condition decides (readiness gates, sidecars); the count says why.
            let all = containers.len();
            match super::condition(p, "Ready") {
                Some(c) if super::is(Some(c), "True") => {
                    Health::healthy(format!("running, {ready} of {all} containers ready"))
                }
                Some(c) if ready == all && all > 0 => {
                    Health::progressing(format!("not ready ({})", super::said(c)))
                }
                None if ready == all && all > 0 => {
                    Health::healthy(format!("running, {ready} of {all} containers ready"))
                }
                _ => Health::progressing(format!("{ready} of {all} containers ready")),
            }
        }
        Some(other) => Health::unknown(format!("phase {other}")),
        None => Health::unknown("no phase reported"),
    }
}
