//! `AWS::EC2::InternetGateway`: DescribeInternetGateways; Terraform `aws_internet_gateway`. The
//! default VPC's gateway is AWS's own.

use std::collections::BTreeSet;

use futures::future::BoxFuture;
use serde_json::{Map, Value, json};

use super::{AwsError, AwsType, Item, Shape, Snapshot, pages, reads};
use crate::live::aws::client::ReadOnlyEc2;
use crate::live::aws::json::{J, text};

reads! {
    describe_internet_gateways: DescribeInternetGatewaysFluentBuilder => "DescribeInternetGateways";
}

pub struct InternetGateways;

impl AwsType for InternetGateways {
    fn name(&self) -> &'static str {
        "AWS::EC2::InternetGateway"
    }

    fn operations(&self) -> &'static [&'static str] {
        OPERATIONS
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            key: "InternetGateways",
            id: &["InternetGatewayId"],
            file: "internet-gateways.json",
            shape: Shape::List,
        }
    }

    fn collect<'a>(&'a self, ec2: &'a ReadOnlyEc2) -> BoxFuture<'a, Result<Vec<Item>, AwsError>> {
        Box::pin(async move {
            let paginator = ec2.describe_internet_gateways().into_paginator();
            let gateways = pages(paginator.page_size(ec2.page_size(1000)).items().send()).await?;
            Ok(Item::each(&gateways, |g| {
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
                Some((id, value))
            }))
        })
    }

    fn terraform_types(&self) -> &'static [&'static str] {
        &["aws_internet_gateway"]
    }

    fn terraform_properties(&self, id: &str, a: &Map<String, Value>) -> Value {
        J::new()
            .v("InternetGatewayId", Value::String(id.to_string()))
            .v(
                "Attachments",
                text(a, "vpc_id").map_or(Value::Null, |v| json!([{"VpcId": v}])),
            )
            .tf_tags(a)
            .build()
    }

    fn is_aws_default(&self, value: &Value, defaults: &BTreeSet<String>) -> bool {
        value
            .get("Attachments")
            .and_then(Value::as_array)
            .is_some_and(|a| {
                a.iter().any(|x| {
                    x.get("VpcId")
                        .and_then(Value::as_str)
                        .is_some_and(|v| defaults.contains(v))
                })
            })
    }
}
