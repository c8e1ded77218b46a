//! The read-only guarantee for AWS, enforced in the SDK: [`ReadOnlyInterceptor`] runs before any
//! operation is serialized or signed and refuses every operation that is not on the allow-list
//! of the reads gitdrift uses. It fails closed: an operation whose name it cannot read is refused.
//! Reads that return secrets (`GetPasswordData`, `GetConsoleOutput`, launch template user data
//! through `GetLaunchTemplateData`) are not on the list. Every attempt sent is counted in
//! `gitdrift_api_requests_total` (verb: the operation) with its HTTP status.

use std::sync::{Arc, LazyLock};

use aws_sdk_ec2::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;

use crate::live::Recorder;

/// Every EC2 operation gitdrift calls: `DescribeRegions`, and the reads each type declares.
/// Nothing else leaves the process.
pub static ALLOWED: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let mut allowed = vec!["DescribeRegions"];
    for t in super::types::ALL {
        allowed.extend(t.operations());
    }
    allowed
});

/// A refused operation.
#[derive(Debug, thiserror::Error)]
#[error("gitdrift is read-only: refused {service} {operation} before sending it")]
pub struct OperationRefused {
    /// The service (`ec2`).
    pub service: String,
    /// The operation, or `<unknown>` when the SDK did not name it.
    pub operation: String,
}

/// Refuses every operation outside [`ALLOWED`], before serialization and signing.
#[derive(Clone, Debug)]
pub struct ReadOnlyInterceptor {
    /// The target whose client this is, for the request metrics.
    pub target: String,
    /// Where requests and refusals are counted.
    pub recorder: Arc<dyn Recorder>,
}

impl Intercept for ReadOnlyInterceptor {
    fn name(&self) -> &'static str {
        "gitdrift-read-only"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let checked = check(cfg.load::<Metadata>());
        if checked.is_err() {
            self.recorder.refused(&self.target, "aws");
        }
        checked
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // A refused operation never gets this far: it fails before its first attempt.
        if let Some(metadata) = cfg.load::<Metadata>() {
            let code = context
                .response()
                .map(|r| r.status().as_u16().to_string())
                .unwrap_or_else(|| "error".to_string());
            self.recorder
                .request(&self.target, "aws", metadata.name(), &code);
        }
        Ok(())
    }
}

/// The decision, on the operation's metadata (absent: refused).
fn check(metadata: Option<&Metadata>) -> Result<(), BoxError> {
    match metadata {
        Some(m) if ALLOWED.contains(&m.name()) => Ok(()),
        Some(m) => Err(Box::new(OperationRefused {
            service: m.service().to_string(),
            operation: m.name().to_string(),
        })),
        None => Err(Box::new(OperationRefused {
            service: "ec2".to_string(),
            operation: "<unknown>".to_string(),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_reads_pass_and_unknown_operations_are_refused() {
        assert!(check(Some(&Metadata::new("DescribeInstances", "ec2"))).is_ok());
        for refused in [
            "RunInstances",
            "GetPasswordData",
            "GetConsoleOutput",
            "DeleteVpc",
        ] {
            let err = check(Some(&Metadata::new(refused, "ec2"))).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("gitdrift is read-only: refused ec2 {refused} before sending it")
            );
        }
        assert!(check(None).is_err(), "fails closed");
        assert!(
            ALLOWED
                .iter()
                .all(|op| op.starts_with("Describe") || op.starts_with("Get"))
        );
    }
}
