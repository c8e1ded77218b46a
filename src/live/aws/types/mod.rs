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

/// An SDK error, with its causes (throttling that outlasted the retries, access denied, …).
pub fn error(err: &dyn std::error::Error) -> String {
    crate::redact::error_chain(err)
}
