package gitdrift.aws.ec2.sg_admin_ports_ipv6_test

import data.gitdrift.aws.ec2.sg_admin_ports_ipv6 as rule

test_rdp_from_world_is_denied if {
	count(rule.deny) > 0 with input as {"resource": {"GroupId": "sg-1", "GroupName": "web", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]}, "gitdrift": {"side": "live"}}
}

test_ipv4_only_is_allowed if {
	count(rule.deny) == 0 with input as {"resource": {"GroupId": "sg-1", "GroupName": "web", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]}, "gitdrift": {"side": "live"}}
}
