package gitdrift.aws.ec2.launch_template_imdsv2_test

import data.gitdrift.aws.ec2.launch_template_imdsv2 as rule

test_optional_is_denied if {
	count(rule.deny) > 0 with input as {"resource": {"LaunchTemplateName": "web", "LaunchTemplateData": {"ImageId": "ami-1"}}, "gitdrift": {"side": "live"}}
}

test_required_is_allowed if {
	count(rule.deny) == 0 with input as {"resource": {"LaunchTemplateName": "web", "LaunchTemplateData": {"MetadataOptions": {"HttpTokens": "required"}}}, "gitdrift": {"side": "live"}}
}
