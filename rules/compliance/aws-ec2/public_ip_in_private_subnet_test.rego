package gitdrift.aws.ec2.public_ip_in_private_subnet_test

import data.gitdrift.aws.ec2.public_ip_in_private_subnet as rule

instance := {"InstanceId": "i-1", "PublicIpAddress": "203.0.113.5"}

private := {"SubnetId": "subnet-1", "Tags": [{"Key": "Tier", "Value": "Private"}]}

public := {"SubnetId": "subnet-2", "Tags": [{"Key": "Name", "Value": "edge-public-a"}]}

test_public_ip_in_private_subnet_is_denied if {
	count(rule.deny) > 0 with input as {"resource": instance, "gitdrift": {"side": "live", "related": {"subnet": private}}}
}

test_private_by_name_is_denied if {
	named := {"SubnetId": "subnet-3", "Tags": [{"Key": "Name", "Value": "app-private-b"}]}
	count(rule.deny) > 0 with input as {"resource": instance, "gitdrift": {"side": "live", "related": {"subnet": named}}}
}

test_public_ip_in_public_subnet_is_allowed if {
	count(rule.deny) == 0 with input as {"resource": instance, "gitdrift": {"side": "live", "related": {"subnet": public}}}
}

test_no_public_ip_is_allowed if {
	count(rule.deny) == 0 with input as {"resource": {"InstanceId": "i-1"}, "gitdrift": {"side": "live", "related": {"subnet": private}}}
}
