# METADATA
# title: Launch template without IMDSv2
# description: >-
#   Launch templates should require IMDSv2, so that every instance launched from them does.
# custom:
#   id: aws-ec2-launch-template-imdsv2
#   severity: medium
#   controls:
#     aws-fsbp: [EC2.170]
#   remediation: >-
#     Create a new default version with MetadataOptions HttpTokens required.
#   kinds: [AWS::EC2::LaunchTemplate]
package gitdrift.aws.ec2.launch_template_imdsv2

import data.gitdrift.lib.aws.live

deny contains msg if {
	live
	tokens := object.get(input.resource, ["LaunchTemplateData", "MetadataOptions", "HttpTokens"], "optional")
	tokens != "required"
	msg := sprintf("launch template %s does not require IMDSv2 (HttpTokens is %s)", [object.get(input.resource, "LaunchTemplateName", ""), tokens])
}

deny contains msg if {
	not live
	tokens := input.resource.LaunchTemplateData.MetadataOptions.HttpTokens
	tokens != "required"
	msg := sprintf("launch template is declared with HttpTokens %s", [tokens])
}
