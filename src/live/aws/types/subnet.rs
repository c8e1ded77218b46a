//! `AWS::EC2::Subnet`: DescribeSubnets; Terraform `aws_subnet`. Default subnets are AWS's own.

use std::collections::BTreeSet;

use futures::future::BoxFuture;
use serde_json::{Map, Value};

use super::{AwsError, AwsType, Item, Shape, Snapshot, pages, reads};
use crate::live::aws::client::ReadOnlyEc2;
use crate::live::aws::json::J;

reads! {
    describe_subnets: DescribeSubnetsFluentBuilder => "DescribeSubnets";
}

pub struct Subnets;

impl AwsType for Subnets {
    fn name(&self) -> &'static str {
        "AWS::EC2::Subnet"
    }

    fn operations(&self) -> &'static [&'static str] {
        OPERATIONS
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            key: "Subnets",
            id: &["SubnetId"],
            file: "subnets.json",
            shape: Shape::List,
        }
    }

    fn collect<'a>(&'a self, ec2: &'a ReadOnlyEc2) -> BoxFuture<'a, Result<Vec<Item>, AwsError>> {
        Box::pin(async move {
            let paginator = ec2.describe_subnets().into_paginator();
            let subnets = pages(paginator.page_size(ec2.page_size(1000)).items().send()).await?;
            Ok(Item::each(&subnets, |s| {
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
                Some((id, value))
            }))
        })
    }

    fn terraform_types(&self) -> &'static [&'static str] {
        &["aws_subnet"]
    }

    fn terraform_properties(&self, id: &str, a: &Map<String, Value>) -> Value {
        J::new()
            .v("SubnetId", Value::String(id.to_string()))
            .text("VpcId", a, "vpc_id")
            .text("CidrBlock", a, "cidr_block")
            .text("AvailabilityZone", a, "availability_zone")
            .raw("MapPublicIpOnLaunch", a, "map_public_ip_on_launch")
            .tf_tags(a)
            .build()
    }

    fn is_aws_default(&self, value: &Value, _defaults: &BTreeSet<String>) -> bool {
        value.get("DefaultForAz").and_then(Value::as_bool) == Some(true)
    }
}
