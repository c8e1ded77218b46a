//! `AWS::EC2::InternetGateway`: DescribeInternetGateways.

use futures::future::BoxFuture;

use super::{Collector, Item, error};
use crate::live::aws::client::ReadOnlyEc2;
use crate::live::aws::json::J;

pub struct InternetGateways;

impl Collector for InternetGateways {
    fn resource_type(&self) -> &'static str {
        "AWS::EC2::InternetGateway"
    }

    fn collect<'a>(&'a self, ec2: &'a ReadOnlyEc2) -> BoxFuture<'a, Result<Vec<Item>, String>> {
        Box::pin(async move {
            let gateways: Vec<_> = ec2
                .describe_internet_gateways()
                .into_paginator()
                .page_size(ec2.page_size(1000))
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| error(&e))?;
            Ok(gateways
                .iter()
                .filter_map(|g| {
                    let id = g.internet_gateway_id()?;
                    let value = J::new()
                        .s("InternetGatewayId", Some(id))
                        .s("OwnerId", g.owner_id())
                        .list("Attachments", g.attachments(), |a| {
                            J::new()
                                .s("VpcId", a.vpc_id())
                                .s("State", a.state().map(|s| s.as_str()))
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
