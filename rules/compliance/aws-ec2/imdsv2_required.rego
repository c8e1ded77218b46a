# METADATA
# title: Instance metadata service version 2 not required
# description: >-
#   EC2 instances should require IMDSv2 (session tokens) for the instance metadata service,
#   which defends against SSRF reaching instance credentials.
# custom:
#   id: aws-ec2-imdsv2-required
#   severity: high
#   controls:
#     cis-aws-3.0: [5.6]
#     aws-fsbp: [EC2.8]
#   remediation: >-
#     Set MetadataOptions HttpTokens to required (aws ec2 modify-instance-metadata-options --http-tokens required, or metadata_options in Terraform).
#   kinds: [AWS::EC2::Instance]
package gitdrift.aws.ec2.imdsv2_required

import data.gitdrift.lib.aws.live

endpoint_disabled if input.resource.MetadataOptions.HttpEndpoint == "disabled"

deny contains msg if {
	not endpoint_disabled
	tokens := object.get(input.resource, ["MetadataOptions", "HttpTokens"], "optional")
	tokens != "required"
	live
	msg := sprintf("instance %s does not require IMDSv2 (HttpTokens is %s)", [object.get(input.resource, "InstanceId", ""), tokens])
}

deny contains msg if {
	# What git declares: only a declared value can be wrong.
	not live
	tokens := input.resource.MetadataOptions.HttpTokens
	tokens != "required"
	msg := sprintf("instance is declared with HttpTokens %s: IMDSv2 is not required", [tokens])
}
