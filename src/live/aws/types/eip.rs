//! `AWS::EC2::EIP`: DescribeAddresses (one call; the API does not page it), by allocation id.

use futures::future::BoxFuture;

use super::{Collector, Item, error};
use crate::live::aws::client::ReadOnlyEc2;
use crate::live::aws::json::J;

pub struct Addresses;

impl Collector for Addresses {
    fn resource_type(&self) -> &'static str {
        "AWS::EC2::EIP"
    }

    fn collect<'a>(&'a self, ec2: &'a ReadOnlyEc2) -> BoxFuture<'a, Result<Vec<Item>, String>> {
        Box::pin(async move {
            let output = ec2
                .describe_addresses()
                .send()
                .await
                .map_err(|e| error(&e))?;
            Ok(output
                .addresses()
                .iter()
                .filter_map(|a| {
                    let id = a.allocation_id().or(a.public_ip())?;
                    let value = J::new()
                        .s("AllocationId", a.allocation_id())
                        .s("PublicIp", a.public_ip())
                        .s("Domain", a.domain().map(|d| d.as_str()))
                        .s("InstanceId", a.instance_id())
                        .s("NetworkInterfaceId", a.network_interface_id())
                        .s("AssociationId", a.association_id())
                        .s("PrivateIpAddress", a.private_ip_address())
                        .tags(a.tags())
                        .build();
                    Some(Item {
                        id: id.to_string(),
                        value,
                    })
                })
                .collect())
        })
    }
}
