//! `AWS::EC2::EIP`: DescribeAddresses (one call; the API does not page it), by allocation id;
//! Terraform `aws_eip`.

use futures::future::BoxFuture;
use serde_json::{Map, Value};

use super::{AwsError, AwsType, Item, Shape, Snapshot, error, reads};
use crate::live::aws::client::ReadOnlyEc2;
use crate::live::aws::json::J;

reads! {
    describe_addresses: DescribeAddressesFluentBuilder => "DescribeAddresses";
}

pub struct Addresses;

impl AwsType for Addresses {
    fn name(&self) -> &'static str {
        "AWS::EC2::EIP"
    }

    fn operations(&self) -> &'static [&'static str] {
        OPERATIONS
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            key: "Addresses",
            id: &["AllocationId", "PublicIp"],
            file: "addresses.json",
            shape: Shape::List,
        }
    }

    fn collect<'a>(&'a self, ec2: &'a ReadOnlyEc2) -> BoxFuture<'a, Result<Vec<Item>, AwsError>> {
        Box::pin(async move {
            let output = ec2
                .describe_addresses()
                .send()
                .await
                .map_err(|e| error(&e))?;
            Ok(Item::each(output.addresses(), |a| {
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
                Some((id, value))
            }))
        })
    }

    fn terraform_types(&self) -> &'static [&'static str] {
        &["aws_eip"]
    }

    fn terraform_properties(&self, id: &str, a: &Map<String, Value>) -> Value {
        J::new()
            .v("AllocationId", Value::String(id.to_string()))
            .text("PublicIp", a, "public_ip")
            .text("Domain", a, "domain")
            .text("InstanceId", a, "instance")
            .tf_tags(a)
            .build()
    }
}
