//! AWS resources: an instance's state and its status checks, and the lifecycle states of NAT
//! gateways, volumes, VPC endpoints, VPCs and subnets, as the EC2 console shows them. Types
//! without a state are healthy when they exist.

use serde_json::Value;

use super::Health;

/// The health of a live AWS resource of `kind` (`AWS::EC2::Instance`), described as the EC2
/// API describes it.
pub(super) fn of(kind: &str, value: &Value) -> Health {
    let state = value.get("State").and_then(Value::as_str);
    match kind {
        "AWS::EC2::Instance" => instance(value),
        "AWS::EC2::NatGateway" => nat_gateway(value, state),
        "AWS::EC2::Volume" => volume(state),
        "AWS::EC2::VPCEndpoint" => vpc_endpoint(value, state),
        "AWS::EC2::VPC" | "AWS::EC2::Subnet" => match state {
            Some("available") => Health::healthy("available"),
            Some("pending") => Health::progressing("pending"),
            Some(s @ ("failed" | "failed-insufficient-capacity" | "unavailable")) => {
                Health::degraded(s.to_string())
            }
            Some(other) => Health::unknown(format!("state {other}")),
            None => Health::healthy("exists"),
        },
        _ => Health::healthy("exists"),
    }
}

fn text<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// `code: message` of an AWS error or reason object, as far as it says.
fn said(code: Option<&str>, message: Option<&str>) -> String {
    match (code, message) {
        (Some(code), Some(message)) if message.starts_with(code) => message.to_string(),
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(one), None) | (None, Some(one)) => one.to_string(),
        (None, None) => "no reason given".to_string(),
    }
}

/// As the console's "Instance state" and "Status check" columns: a running instance is healthy
/// when both checks pass, degraded when either is impaired, progressing while they initialize;
/// a stopped one is suspended (stopped on purpose) unless AWS stopped it (`Server.*` reasons).
/// A scheduled retirement or stop is degraded: it will go down whatever git says.
fn instance(value: &Value) -> Health {
    let state = text(value, "/State/Name").unwrap_or("unknown");
    let reason = || {
        said(
            text(value, "/StateReason/Code"),
            text(value, "/StateReason/Message"),
        )
    };
    match state {
        "pending" => return Health::progressing("pending: starting"),
        "stopping" | "shutting-down" => return Health::progressing(state),
        "stopped" if text(value, "/StateReason/Code").is_some_and(|c| c.starts_with("Server.")) => {
            return Health::degraded(format!("stopped by AWS ({})", reason()));
        }
        "stopped" => {
            return Health::suspended(match text(value, "/StateReason/Code") {
                Some(_) => format!("stopped ({})", reason()),
                None => "stopped".to_string(),
            });
        }
        "running" => {}
        other => return Health::unknown(format!("instance state {other}")),
    }
    let Some(checks) = value.get("StatusChecks").filter(|c| c.is_object()) else {
        return Health::healthy("running (status checks not read)");
    };
    if let Some(why) = text(checks, "/Unreadable") {
        return Health::unknown(format!("running; status checks unreadable: {why}"));
    }
    let events: Vec<String> = checks
        .get("Events")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| {
            !text(e, "/Description")
                .is_some_and(|d| d.starts_with("[Completed]") || d.starts_with("[Canceled]"))
        })
        .filter_map(|e| {
            let code = text(e, "/Code")?;
            let when = text(e, "/NotBefore")
                .map(|t| format!(" from {t}"))
                .unwrap_or_default();
            Some(format!("{code}{when}"))
        })
        .collect();
    let checks_of = [
        ("instance", text(checks, "/InstanceStatus/Status")),
        ("system", text(checks, "/SystemStatus/Status")),
        ("attached EBS", text(checks, "/AttachedEbsStatus/Status")),
    ];
    let failing = |status: &str| -> Vec<&str> {
        checks_of
            .iter()
            .filter(|(_, s)| *s == Some(status))
            .map(|(name, _)| *name)
            .collect()
    };
    let impaired = failing("impaired");
    if !impaired.is_empty() {
        return Health::degraded(format!(
            "running; {} status check impaired",
            impaired.join(" and ")
        ));
    }
    if events
        .iter()
        .any(|e| e.starts_with("instance-retirement") || e.starts_with("instance-stop"))
    {
        return Health::degraded(format!("running; scheduled: {}", events.join(", ")));
    }
    let initializing = failing("initializing");
    if !initializing.is_empty() {
        return Health::progressing(format!(
            "running; {} status check initializing",
            initializing.join(" and ")
        ));
    }
    let unsure = failing("insufficient-data");
    if !unsure.is_empty() {
        return Health::unknown(format!(
            "running; {} status check has insufficient data",
            unsure.join(" and ")
        ));
    }
    let mut reason = "running; status checks ok".to_string();
    if !events.is_empty() {
        reason.push_str(&format!("; scheduled: {}", events.join(", ")));
    }
    Health::healthy(reason)
}

fn nat_gateway(value: &Value, state: Option<&str>) -> Health {
    match state {
        Some("available") => Health::healthy("available"),
        Some("pending") => Health::progressing("pending"),
        Some("failed") => Health::degraded(format!(
            "failed ({})",
            said(text(value, "/FailureCode"), text(value, "/FailureMessage"))
        )),
        Some(other) => Health::unknown(format!("state {other}")),
        None => Health::unknown("no state"),
    }
}

fn volume(state: Option<&str>) -> Health {
    match state {
        Some("in-use") => Health::healthy("in use"),
        Some("available") => Health::healthy("available, not attached"),
        Some("creating") => Health::progressing("creating"),
        Some("deleting") => Health::progressing("deleting"),
        Some("error") => Health::degraded("the volume is in error"),
        Some(other) => Health::unknown(format!("state {other}")),
        None => Health::unknown("no state"),
    }
}

/// Endpoint states as the API spells them (`pendingAcceptance`, `Available` in older
/// responses): compared without case.
fn vpc_endpoint(value: &Value, state: Option<&str>) -> Health {
    let last_error = || {
        said(
            text(value, "/LastError/Code"),
            text(value, "/LastError/Message"),
        )
    };
    match state.map(str::to_ascii_lowercase).as_deref() {
        Some("available") => Health::healthy("available"),
        Some("pending") => Health::progressing("pending"),
        Some("pendingacceptance") => {
            Health::progressing("waiting for the service owner to accept the connection")
        }
        Some("deleting") => Health::progressing("deleting"),
        Some(s @ ("failed" | "rejected" | "expired" | "partial")) => {
            match text(value, "/LastError/Code") {
                Some(_) => Health::degraded(format!("{s} ({})", last_error())),
                None => Health::degraded(s.to_string()),
            }
        }
        Some(other) => Health::unknown(format!("state {other}")),
        None => Health::unknown("no state"),
    }
}
