//! `AWS::EC2::NatGateway`: DescribeNatGateways, except deleted ones; Terraform
//! `aws_nat_gateway`.

use futures::future::BoxFuture;
use serde_json::{Map, Value, json};

use super::{AwsError, AwsType, Item, Shape, Snapshot, pages, reads};
use crate::live::aws::client::ReadOnlyEc2;
use crate::live::aws::json::{J, text};

reads! {
    describe_nat_gateways: DescribeNatGatewaysFluentBuilder => "DescribeNatGateways";
}

pub struct NatGateways;

impl AwsType for NatGateways {
    fn name(&self) -> &'static str {
        "AWS::EC2::NatGateway"
    }

    fn operations(&self) -> &'static [&'static str] {
        OPERATIONS
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            key: "NatGateways",
            id: &["NatGatewayId"],
            file: "nat-gateways.json",
            shape: Shape::List,
        }
    }

    fn collect<'a>(&'a self, ec2: &'a ReadOnlyEc2) -> BoxFuture<'a, Result<Vec<Item>, AwsError>> {
        Box::pin(async move {
            let paginator = ec2.describe_nat_gateways().into_paginator();
            let gateways = pages(paginator.page_size(ec2.page_size(1000)).items().send()).await?;
            Ok(Item::each(&gateways, |g| {
                let state = g.state().map(|s| s.as_str());
                if matches!(state, Some("deleted" | "deleting")) {
                    return None;
                }
                let id = g.nat_gateway_id()?;
                let value = J::new()
                    .s("NatGatewayId", Some(id))
                    .s("SubnetId", g.subnet_id())
                    .s("VpcId", g.vpc_id())
                    .s("State", state)
                    .s("FailureCode", g.failure_code())
                    .s("FailureMessage", g.failure_message())
                    .s(
                        "ConnectivityType",
                        g.connectivity_type().map(|s| s.as_str()),
                    )
                    .list("NatGatewayAddresses", g.nat_gateway_addresses(), |a| {
                        J::new()
                            .s("AllocationId", a.allocation_id())
                            .s("PublicIp", a.public_ip())
                            .s("PrivateIp", a.private_ip())
                            .build()
                    })
                    .tags(g.tags())
                    .build();
                Some((id, value))
            }))
        })
    }

    fn terraform_types(&self) -> &'static [&'static str] {
        &["aws_nat_gateway"]
    }

    fn terraform_properties(&self, id: &str, a: &Map<String, Value>) -> Value {
        J::new()
            .v("NatGatewayId", Value::String(id.to_string()))
            .text("SubnetId", a, "subnet_id")
            .text("ConnectivityType", a, "connectivity_type")
            .v(
                "NatGatewayAddresses",
                text(a, "allocation_id").map_or(Value::Null, |v| json!([{"AllocationId": v}])),
            )
            .tf_tags(a)
            .build()
    }
}
