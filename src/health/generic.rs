//! Everything else: autoscalers, aggregated APIs, namespaces, and any custom resource that
//! reports kstatus-style conditions (`Ready`, `Stalled`, `Reconciling`) and `observedGeneration`.
//! A kind without a status is healthy when it exists.

use serde_json::Value;

use super::{Health, condition, is, said, unobserved};

pub(super) fn conditions(o: &Value) -> Health {
    if o.get("status")
        .is_none_or(|s| s.as_object().is_none_or(|m| m.is_empty()))
    {
        return Health::healthy("exists");
    }
    // As kstatus: a controller that has not seen the latest spec says nothing about it yet, not
    // even Stalled.
    if let Some(health) = unobserved(o) {
        return health;
    }
    if let Some(c) = condition(o, "Stalled").filter(|c| is(Some(c), "True")) {
        return Health::degraded(format!("stalled ({})", said(c)));
    }
    if let Some(c) = condition(o, "Reconciling").filter(|c| is(Some(c), "True")) {
        return Health::progressing(format!("reconciling ({})", said(c)));
    }
    let generation = o.pointer("/metadata/generation").and_then(Value::as_i64);
    match condition(o, "Ready") {
        // A condition written for an older generation (metav1.Condition's own field).
        Some(c)
            if generation.is_some_and(|g| {
                c.get("observedGeneration")
                    .and_then(Value::as_i64)
                    .is_some_and(|seen| seen < g)
            }) =>
        {
            Health::progressing(format!("Ready describes an older generation ({})", said(c)))
        }
        Some(c) if is(Some(c), "True") => Health::healthy(format!("ready ({})", said(c))),
        // Not ready is not failed: new resources are not ready for a while. Stalled is failed.
        Some(c) if is(Some(c), "False") => Health::progressing(format!("not ready ({})", said(c))),
        Some(c) => Health::progressing(format!("readiness unknown ({})", said(c))),
        None => Health::healthy("exists; no Ready condition to judge"),
    }
}

pub(super) fn api_service(a: &Value) -> Health {
    match condition(a, "Available") {
        Some(c) if is(Some(c), "True") => Health::healthy("available"),
        Some(c) if is(Some(c), "False") => Health::degraded(format!("unavailable ({})", said(c))),
        _ => Health::progressing("availability not reported yet"),
    }
}

pub(super) fn namespace(n: &Value) -> Health {
    match n.pointer("/status/phase").and_then(Value::as_str) {
        Some("Terminating") => Health::progressing("terminating"),
        _ => Health::healthy("active"),
    }
}

/// Horizontal pod autoscalers, v2 conditions or v1's conditions annotation.
pub(super) fn autoscaler(h: &Value) -> Health {
    let annotated: Option<Value> = h
        .pointer("/metadata/annotations/autoscaling.alpha.kubernetes.io~1conditions")
        .and_then(Value::as_str)
        .and_then(|text| serde_json::from_str(text).ok());
    let find = |kind: &str| -> Option<Value> {
        condition(h, kind).cloned().or_else(|| {
            annotated
                .as_ref()?
                .as_array()?
                .iter()
                .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
                .cloned()
        })
    };
    for kind in ["AbleToScale", "ScalingActive"] {
        if let Some(c) = find(kind).filter(|c| is(Some(c), "False")) {
            // ScalingDisabled: scaled to zero on purpose.
            if c.get("reason").and_then(Value::as_str) == Some("ScalingDisabled") {
                return Health::suspended(format!("scaling disabled ({})", said(&c)));
            }
            return Health::degraded(format!("{kind} is False ({})", said(&c)));
        }
    }
    if find("AbleToScale").is_none() && find("ScalingActive").is_none() {
        return Health::progressing("waiting to autoscale: no conditions reported yet");
    }
    if let Some(c) = find("ScalingLimited").filter(|c| is(Some(c), "True")) {
        return Health::healthy(format!("scaling, at a limit ({})", said(&c)));
    }
    Health::healthy("scaling")
}
