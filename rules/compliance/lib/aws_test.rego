package gitdrift.lib.aws_test

import data.gitdrift.lib.aws

test_tags_from_the_api_list if {
	tags := aws.tags with input as {"resource": {"Tags": [{"Key": "Name", "Value": "web"}]}}
	tags == {"Name": "web"}
}

test_tags_from_a_declared_map if {
	tags := aws.tags with input as {"resource": {"Tags": {"Name": "web"}}}
	tags == {"Name": "web"}
}

test_ports if {
	aws.permits_port({"IpProtocol": "6", "FromPort": 20, "ToPort": 25}, 22)
	aws.permits_port({"IpProtocol": "-1"}, 3389)
	not aws.permits_port({"IpProtocol": "udp", "FromPort": 22, "ToPort": 22}, 22)
}
