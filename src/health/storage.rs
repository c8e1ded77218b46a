//! Persistent volume claims: bound, waiting for a volume, or lost.

use serde_json::Value;

use super::Health;

pub(super) fn claim(c: &Value) -> Health {
    match c.pointer("/status/phase").and_then(Value::as_str) {
        Some("Bound") => {
            let volume = c
                .pointer("/spec/volumeName")
                .and_then(Value::as_str)
                .unwrap_or("a volume");
            Health::healthy(format!("bound to {volume}"))
        }
        Some("Pending") => Health::progressing("pending: waiting for a volume"),
        Some("Lost") => Health::degraded("lost: its volume is gone"),
        Some(other) => Health::unknown(format!("phase {other}")),
        None => Health::unknown("no phase reported"),
    }
}
