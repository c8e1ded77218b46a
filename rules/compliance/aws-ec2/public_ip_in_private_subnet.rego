# METADATA
# title: Instance with a public IP in a private subnet
# description: >-
#   An instance in a subnet tagged private should not have a public IPv4 address: it is
#   reachable from the internet where the network design says it is not.
# custom:
#   id: aws-ec2-public-ip-in-private-subnet
#   severity: high
#   controls:
#     aws-fsbp: [EC2.9]
#   remediation: >-
#     Launch the instance without a public IP (turn off MapPublicIpOnLaunch on the subnet) and release any Elastic IP associated with it.
#   kinds: [AWS::EC2::Instance]
#   sides: [live]
package gitdrift.aws.ec2.public_ip_in_private_subnet

import data.gitdrift.lib.aws
import data.gitdrift.lib.aws.live

# A subnet is private when a tag says so: a value "private" (any case) under Tier, Type,
# Network, Visibility or Scope, or a Name containing "private".
private_subnet(subnet) if {
	tags := aws.tags_of(subnet)
	some key in ["Tier", "tier", "Type", "type", "Network", "network", "Visibility", "visibility", "Scope", "scope"]
	lower(tags[key]) == "private"
}

private_subnet(subnet) if contains(lower(aws.tags_of(subnet).Name), "private")

deny contains msg if {
	live
	ip := input.resource.PublicIpAddress
	ip != ""
	subnet := input.gitdrift.related.subnet
	private_subnet(subnet)
	msg := sprintf("instance %s has public IP %s in private subnet %s", [object.get(input.resource, "InstanceId", ""), ip, object.get(subnet, "SubnetId", "")])
}
