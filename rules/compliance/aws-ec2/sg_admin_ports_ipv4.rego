# METADATA
# title: Security group open to the world on admin ports (IPv4)
# description: >-
#   No security group should allow ingress from 0.0.0.0/0 to remote server administration ports:
#   SSH (22), RDP (3389), or all ports.
# custom:
#   id: aws-ec2-sg-admin-ports-ipv4
#   severity: high
#   controls:
#     cis-aws-3.0: [5.2]
#     aws-fsbp: [EC2.13, EC2.14]
#   remediation: >-
#     Remove the rule, or narrow its source to the networks that administer the servers (or use Session Manager).
#   kinds: [AWS::EC2::SecurityGroup]
package gitdrift.aws.ec2.sg_admin_ports_ipv4

import data.gitdrift.lib.aws
import data.gitdrift.lib.aws.world_ipv4

deny contains msg if {
	some permission in object.get(input.resource, "IpPermissions", [])
	some range in object.get(permission, "IpRanges", [])
	range.CidrIp == world_ipv4
	some port in [22, 3389]
	aws.permits_port(permission, port)
	msg := sprintf("security group %s allows port %d from 0.0.0.0/0", [object.get(input.resource, "GroupId", object.get(input.resource, "GroupName", "")), port])
}
