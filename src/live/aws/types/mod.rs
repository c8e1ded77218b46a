//! One collector per resource type, each in its own file, behind [`Collector`].

mod ebs_encryption;
mod eip;
mod flow_log;
mod instance;
mod internet_gateway;
mod key_pair;
mod launch_template;
mod nat_gateway;
mod network_acl;
mod route_table;
mod security_group;
mod subnet;
mod volume;
mod vpc;

use futures::future::BoxFuture;
use serde_json::Value;

use super::client::ReadOnlyEc2;

/// One live resource: its id and its description.
#[derive(Clone, Debug)]
pub struct Item {
    /// The resource id (`i-…`, `sg-…`; the region for account settings).
    pub id: String,
    /// The resource as `aws ec2 describe-*` prints it.
    pub value: Value,
}

/// Reads every resource of one type in a client's region.
pub trait Collector: Send + Sync {
    /// The AWS Config resource type.
    fn resource_type(&self) -> &'static str;
    /// All resources of the type (every page).
    fn collect<'a>(&'a self, ec2: &'a ReadOnlyEc2) -> BoxFuture<'a, Result<Vec<Item>, String>>;
}

/// Every collector, one per supported type.
pub fn all() -> Vec<&'static dyn Collector> {
    vec![
        &instance::Instances,
        &security_group::SecurityGroups,
        &vpc::Vpcs,
        &subnet::Subnets,
        &route_table::RouteTables,
        &internet_gateway::InternetGateways,
        &nat_gateway::NatGateways,
        &eip::Addresses,
        &volume::Volumes,
        &network_acl::NetworkAcls,
        &launch_template::LaunchTemplates,
        &key_pair::KeyPairs,
        &flow_log::FlowLogs,
        &ebs_encryption::EbsEncryptionByDefault,
    ]
}

/// The name of every supported type.
pub fn names() -> Vec<&'static str> {
    all().iter().map(|c| c.resource_type()).collect()
}

/// An SDK error as a report shows it: the service's own code and message where AWS answered
/// (`RequestLimitExceeded: Request limit exceeded.` after the retries gave up,
/// `UnauthorizedOperation: …`), else the error and its causes (timeouts, connection refused).
pub fn error<E, R>(err: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> String
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    if let SdkError::ServiceError(service) = err {
        let e = service.err();
        match (e.code(), e.message()) {
            (Some(code), Some(message)) => return format!("{code}: {message}"),
            (Some(code), None) => return code.to_string(),
            _ => {}
        }
    }
    crate::model::redact::error_chain(err)
}
