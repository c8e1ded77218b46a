//! `AWS::EC2::Subnet`: DescribeSubnets.

use futures::future::BoxFuture;

use super::{Collector, Item, error};
use crate::live::aws::client::ReadOnlyEc2;
use crate::live::aws::json::J;

pub struct Subnets;

impl Collector for Subnets {
    fn resource_type(&self) -> &'static str {
        "AWS::EC2::Subnet"
    }

    fn collect<'a>(&'a self, ec2: &'a ReadOnlyEc2) -> BoxFuture<'a, Result<Vec<Item>, String>> {
        Box::pin(async move {
            let subnets: Vec<_> = ec2
                .describe_subnets()
                .into_paginator()
                .page_size(ec2.page_size(1000))
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| error(&e))?;
            Ok(subnets
                .iter()
                .filter_map(|s| {
                    let id = s.subnet_id()?;
                    let value = J::new()
                        .s("SubnetId", Some(id))
                        .s("VpcId", s.vpc_id())
                        .s("CidrBlock", s.cidr_block())
                        .s("AvailabilityZone", s.availability_zone())
                        .b("MapPublicIpOnLaunch", s.map_public_ip_on_launch())
                        .b("DefaultForAz", s.default_for_az())
                        .b(
                            "AssignIpv6AddressOnCreation",
                            s.assign_ipv6_address_on_creation(),
                        )
                        .s("State", s.state().map(|t| t.as_str()))
                        .tags(s.tags())
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
