# METADATA
# title: Network ACL open to the world on admin ports
# description: >-
#   No network ACL should allow ingress from 0.0.0.0/0 or ::/0 to remote server administration
#   ports (22, 3389), or on all ports.
# custom:
#   id: aws-ec2-nacl-admin-ports
#   severity: high
#   controls:
#     cis-aws-3.0: [5.1]
#     aws-fsbp: [EC2.21]
#   remediation: >-
#     Replace the allow entry with one that admits only the administering networks, or deny the ports before it.
#   kinds: [AWS::EC2::NetworkAcl]
package gitdrift.aws.ec2.nacl_admin_ports

import data.gitdrift.lib.aws
import data.gitdrift.lib.aws.world_ipv4
import data.gitdrift.lib.aws.world_ipv6

covers(entry, port) if aws.all_protocols(entry.Protocol)

covers(entry, port) if {
	aws.tcp(entry.Protocol)
	not entry.PortRange
}

covers(entry, port) if {
	aws.tcp(entry.Protocol)
	entry.PortRange.From <= port
	port <= entry.PortRange.To
}

deny contains msg if {
	some entry in object.get(input.resource, "Entries", [])
	not entry.Egress == true
	lower(entry.RuleAction) == "allow"
	object.get(entry, "CidrBlock", object.get(entry, "Ipv6CidrBlock", "")) in {world_ipv4, world_ipv6}
	some port in [22, 3389]
	covers(entry, port)
	msg := sprintf("network ACL %s rule %v allows port %d from the world", [object.get(input.resource, "NetworkAclId", ""), entry.RuleNumber, port])
}
