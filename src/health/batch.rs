//! Jobs and CronJobs: finished, failed, running or suspended.

use serde_json::Value;

use super::{Health, condition, int, is, said};

pub(super) fn job(j: &Value) -> Health {
    if let Some(c) = condition(j, "Failed").filter(|c| is(Some(c), "True")) {
        return Health::degraded(format!("failed ({})", said(c)));
    }
    if condition(j, "Complete").is_some_and(|c| is(Some(c), "True")) {
        return Health::healthy(format!(
            "completed, {} succeeded",
            int(j, "/status/succeeded")
        ));
    }
    // 1.31+: decided, its pods still terminating.
    if let Some(c) = condition(j, "FailureTarget").filter(|c| is(Some(c), "True")) {
        return Health::degraded(format!("failing, pods terminating ({})", said(c)));
    }
    if condition(j, "SuccessCriteriaMet").is_some_and(|c| is(Some(c), "True")) {
        return Health::progressing("succeeded; pods terminating");
    }
    if j.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true) {
        return Health::suspended("the job is suspended");
    }
    Health::progressing(format!(
        "running: {} active, {} succeeded, {} failed",
        int(j, "/status/active"),
        int(j, "/status/succeeded"),
        int(j, "/status/failed")
    ))
}

pub(super) fn cron_job(c: &Value) -> Health {
    if c.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true) {
        return Health::suspended("the schedule is suspended");
    }
    match c
        .pointer("/status/lastScheduleTime")
        .and_then(Value::as_str)
    {
        Some(at) => Health::healthy(format!("scheduled, last at {at}")),
        None => Health::healthy("scheduled, not run yet"),
    }
}
