# METADATA
# title: Default security group allows traffic
# description: >-
#   The default security group of every VPC should restrict all traffic, so that resources are
#   never placed in it by accident with open access.
# custom:
#   id: aws-ec2-default-sg-restricts-all
#   severity: medium
#   controls:
#     cis-aws-3.0: [5.4]
#     aws-fsbp: [EC2.2]
#   remediation: >-
#     Remove every inbound and outbound rule from the default security group; put resources in purpose-made groups.
#   kinds: [AWS::EC2::SecurityGroup]
package gitdrift.aws.ec2.default_sg_restricts_all


deny contains msg if {
	input.resource.GroupName == "default"
	some field in ["IpPermissions", "IpPermissionsEgress"]
	count(object.get(input.resource, field, [])) > 0
	direction := {"IpPermissions": "inbound", "IpPermissionsEgress": "outbound"}[field]
	msg := sprintf("default security group %s allows %s traffic", [object.get(input.resource, "GroupId", ""), direction])
}
