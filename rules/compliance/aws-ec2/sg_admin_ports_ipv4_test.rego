package gitdrift.aws.ec2.sg_admin_ports_ipv4_test

import data.gitdrift.aws.ec2.sg_admin_ports_ipv4 as rule

test_ssh_from_world_is_denied if {
	count(rule.deny) > 0 with input as {"resource": {"GroupId": "sg-1", "GroupName": "web", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}, "gitdrift": {"side": "live"}}
}

test_all_traffic_from_world_is_denied if {
	count(rule.deny) > 0 with input as {"resource": {"GroupId": "sg-1", "GroupName": "web", "IpPermissions": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}, "gitdrift": {"side": "desired"}}
}

test_port_range_with_rdp_is_denied if {
	count(rule.deny) > 0 with input as {"resource": {"GroupId": "sg-1", "GroupName": "web", "IpPermissions": [{"IpProtocol": "6", "FromPort": 3000, "ToPort": 4000, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}, "gitdrift": {"side": "live"}}
}

test_https_from_world_is_allowed if {
	count(rule.deny) == 0 with input as {"resource": {"GroupId": "sg-1", "GroupName": "web", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}, "gitdrift": {"side": "live"}}
}

test_ssh_from_office_is_allowed if {
	count(rule.deny) == 0 with input as {"resource": {"GroupId": "sg-1", "GroupName": "web", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "203.0.113.0/24"}]}]}, "gitdrift": {"side": "live"}}
}
