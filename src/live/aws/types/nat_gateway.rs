//! `AWS::EC2::NatGateway`: DescribeNatGateways, except deleted ones.

use futures::future::BoxFuture;

use super::{Collector, Item, error};
use crate::live::aws::client::ReadOnlyEc2;
use crate::live::aws::json::J;

pub struct NatGateways;

impl Collector for NatGateways {
    fn resource_type(&self) -> &'static str {
        "AWS::EC2::NatGateway"
    }

    fn collect<'a>(&'a self, ec2: &'a ReadOnlyEc2) -> BoxFuture<'a, Result<Vec<Item>, String>> {
        Box::pin(async move {
            let gateways: Vec<_> = ec2
                .describe_nat_gateways()
                .into_paginator()
                .page_size(ec2.page_size(1000))
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| error(&e))?;
            Ok(gateways
                .iter()
                .filter(|g| !matches!(g.state().map(|s| s.as_str()), Some("deleted" | "deleting")))
                .filter_map(|g| {
                    let id = g.nat_gateway_id()?;
                    let value = J::new()
                        .s("NatGatewayId", Some(id))
                        .s("SubnetId", g.subnet_id())
                        .s("VpcId", g.vpc_id())
                        .s("State", g.state().map(|s| s.as_str()))
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
                    Some(Item {
                        id: id.to_string(),
                        value,
                    })
                })
                .collect())
        })
    }
}
