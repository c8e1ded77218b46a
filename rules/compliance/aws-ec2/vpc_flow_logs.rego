# METADATA
# title: VPC without flow logs
# description: >-
#   Every VPC should have flow logging enabled, to record the traffic that reaches it (accepted
#   and rejected) for investigation.
# custom:
#   id: aws-ec2-vpc-flow-logs
#   severity: medium
#   controls:
#     cis-aws-3.0: [3.7]
#     aws-fsbp: [EC2.6]
#   remediation: >-
#     Create a flow log for the VPC (at least for rejected traffic) to CloudWatch Logs or S3.
#   kinds: [AWS::EC2::VPC]
#   sides: [live]
package gitdrift.aws.ec2.vpc_flow_logs

import data.gitdrift.lib.aws.live

# Flow logs are separate resources: the scan hands a VPC's own in input.gitdrift.related.
deny contains msg if {
	live
	count(object.get(input.gitdrift, ["related", "flow_logs"], [])) == 0
	msg := sprintf("VPC %s has no flow log", [object.get(input.resource, "VpcId", "")])
}
