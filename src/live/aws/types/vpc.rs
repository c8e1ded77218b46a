//! `AWS::EC2::VPC`: DescribeVpcs.

use futures::future::BoxFuture;

use super::{Collector, Item, error};
use crate::live::aws::client::ReadOnlyEc2;
use crate::live::aws::json::J;

pub struct Vpcs;

impl Collector for Vpcs {
    fn resource_type(&self) -> &'static str {
        "AWS::EC2::VPC"
    }

    fn collect<'a>(&'a self, ec2: &'a ReadOnlyEc2) -> BoxFuture<'a, Result<Vec<Item>, String>> {
        Box::pin(async move {
            let vpcs: Vec<_> = ec2
                .describe_vpcs()
                .into_paginator()
                .page_size(ec2.page_size(1000))
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| error(&e))?;
            Ok(vpcs
                .iter()
                .filter_map(|v| {
                    let id = v.vpc_id()?;
                    let value = J::new()
                        .s("VpcId", Some(id))
                        .s("CidrBlock", v.cidr_block())
                        .s("DhcpOptionsId", v.dhcp_options_id())
                        .s("InstanceTenancy", v.instance_tenancy().map(|t| t.as_str()))
                        .b("IsDefault", v.is_default())
                        .s("State", v.state().map(|s| s.as_str()))
                        .s("OwnerId", v.owner_id())
                        .tags(v.tags())
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
