//! `AWS::EC2::RouteTable`: DescribeRouteTables; Terraform `aws_route_table`. The local route AWS
//! creates with every table (origin `CreateRouteTable`) is not something anyone declares, and is
//! left out; a VPC's main route table is AWS's own.

use std::collections::BTreeSet;

use futures::future::BoxFuture;
use serde_json::{Map, Value};

use super::{AwsError, AwsType, Item, Shape, Snapshot, pages, reads};
use crate::live::aws::client::ReadOnlyEc2;
use crate::live::aws::json::J;

reads! {
    describe_route_tables: DescribeRouteTablesFluentBuilder => "DescribeRouteTables";
}

pub struct RouteTables;

impl AwsType for RouteTables {
    fn name(&self) -> &'static str {
        "AWS::EC2::RouteTable"
    }

    fn operations(&self) -> &'static [&'static str] {
        OPERATIONS
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            key: "RouteTables",
            id: &["RouteTableId"],
            file: "route-tables.json",
            shape: Shape::List,
        }
    }

    fn collect<'a>(&'a self, ec2: &'a ReadOnlyEc2) -> BoxFuture<'a, Result<Vec<Item>, AwsError>> {
        Box::pin(async move {
            let paginator = ec2.describe_route_tables().into_paginator();
            let tables = pages(paginator.page_size(ec2.page_size(100)).items().send()).await?;
            Ok(Item::each(&tables, |t| {
                let id = t.route_table_id()?;
                let routes: Vec<_> = t
                    .routes()
                    .iter()
                    .filter(|r| r.origin().map(|o| o.as_str()) != Some("CreateRouteTable"))
                    .collect();
                let value = J::new()
                    .s("RouteTableId", Some(id))
                    .s("VpcId", t.vpc_id())
                    .s("OwnerId", t.owner_id())
                    .list("Routes", &routes, |r| {
                        J::new()
                            .s("DestinationCidrBlock", r.destination_cidr_block())
                            .s("DestinationIpv6CidrBlock", r.destination_ipv6_cidr_block())
                            .s("DestinationPrefixListId", r.destination_prefix_list_id())
                            .s("GatewayId", r.gateway_id())
                            .s("NatGatewayId", r.nat_gateway_id())
                            .s("InstanceId", r.instance_id())
                            .s("NetworkInterfaceId", r.network_interface_id())
                            .s("VpcPeeringConnectionId", r.vpc_peering_connection_id())
                            .s("TransitGatewayId", r.transit_gateway_id())
                            .build()
                    })
                    .list("Associations", t.associations(), |a| {
                        J::new()
                            .s("SubnetId", a.subnet_id())
                            .s("GatewayId", a.gateway_id())
                            .b("Main", a.main())
                            .build()
                    })
                    .tags(t.tags())
                    .build();
                Some((id, value))
            }))
        })
    }

    fn terraform_types(&self) -> &'static [&'static str] {
        &["aws_route_table"]
    }

    fn terraform_properties(&self, id: &str, a: &Map<String, Value>) -> Value {
        let routes = a
            .get("route")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
            .map(|r| {
                J::new()
                    .text("DestinationCidrBlock", r, "cidr_block")
                    .text("DestinationIpv6CidrBlock", r, "ipv6_cidr_block")
                    .text("GatewayId", r, "gateway_id")
                    .text("NatGatewayId", r, "nat_gateway_id")
                    .text("VpcPeeringConnectionId", r, "vpc_peering_connection_id")
                    .text("TransitGatewayId", r, "transit_gateway_id")
                    .text("NetworkInterfaceId", r, "network_interface_id")
                    .build()
            })
            .collect();
        J::new()
            .v("RouteTableId", Value::String(id.to_string()))
            .text("VpcId", a, "vpc_id")
            .v("Routes", Value::Array(routes))
            .tf_tags(a)
            .build()
    }

    fn is_aws_default(&self, value: &Value, _defaults: &BTreeSet<String>) -> bool {
        value
            .get("Associations")
            .and_then(Value::as_array)
            .is_some_and(|a| {
                a.iter()
                    .any(|x| x.get("Main").and_then(Value::as_bool) == Some(true))
            })
    }
}
