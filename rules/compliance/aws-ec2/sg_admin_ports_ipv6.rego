# METADATA
# title: Security group open to the world on admin ports (IPv6)
# description: >-
#   No security group should allow ingress from ::/0 to remote server administration ports: SSH
#   (22), RDP (3389), or all ports.
# custom:
#   id: aws-ec2-sg-admin-ports-ipv6
#   severity: high
#   controls:
#     cis-aws-3.0: [5.3]
#     aws-fsbp: [EC2.13, EC2.14]
#   remediation: >-
#     Remove the rule, or narrow its source to the networks that administer the servers.
#   kinds: [AWS::EC2::SecurityGroup]
package gitdrift.aws.ec2.sg_admin_ports_ipv6

import data.gitdrift.lib.aws
import data.gitdrift.lib.aws.world_ipv6

deny contains msg if {
	some permission in object.get(input.resource, "IpPermissions", [])
	some range in object.get(permission, "Ipv6Ranges", [])
	range.CidrIpv6 == world_ipv6
	some port in [22, 3389]
	aws.permits_port(permission, port)
	msg := sprintf("security group %s allows port %d from ::/0", [object.get(input.resource, "GroupId", object.get(input.resource, "GroupName", "")), port])
}
