//! Services and Ingresses: a load balancer that has an address.

use serde_json::Value;

use super::Health;

/// The first address of `status.loadBalancer.ingress`, if one was assigned.
fn address(object: &Value) -> Option<String> {
    let first = object
        .pointer("/status/loadBalancer/ingress")?
        .as_array()?
        .first()?;
    first
        .get("hostname")
        .or_else(|| first.get("ip"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

pub(super) fn service(s: &Value) -> Health {
    let kind = s
        .pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    if kind != "LoadBalancer" {
        return Health::healthy(format!("{kind} service"));
    }
    match address(s) {
        Some(at) => Health::healthy(format!("load balancer at {at}")),
        None => Health::progressing("waiting for a load balancer address"),
    }
}

pub(super) fn ingress(i: &Value) -> Health {
    match address(i) {
        Some(at) => Health::healthy(format!("served at {at}")),
        None => Health::progressing("waiting for an address from the ingress controller"),
    }
}
