//! `AWS::EC2::RouteTable`: DescribeRouteTables. The local route AWS creates with every table
//! (origin `CreateRouteTable`) is not something anyone declares, and is left out.

use futures::future::BoxFuture;

use super::{Collector, Item, error};
use crate::live::aws::client::ReadOnlyEc2;
use crate::live::aws::json::J;

pub struct RouteTables;

impl Collector for RouteTables {
    fn resource_type(&self) -> &'static str {
        "AWS::EC2::RouteTable"
    }

    fn collect<'a>(&'a self, ec2: &'a ReadOnlyEc2) -> BoxFuture<'a, Result<Vec<Item>, String>> {
        Box::pin(async move {
            let tables: Vec<_> = ec2
                .describe_route_tables()
                .into_paginator()
                .page_size(ec2.page_size(100))
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| error(&e))?;
            Ok(tables
                .iter()
                .filter_map(|t| {
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
                    Some(Item {
                        id: id.to_string(),
                        value,
                    })
                })
                .collect())
        })
    }
}
