# METADATA
# title: EBS encryption by default is off
# description: >-
#   EBS encryption by default should be enabled in every region, so that every new volume and
#   snapshot is encrypted.
# custom:
#   id: aws-ec2-ebs-encryption-by-default
#   severity: medium
#   controls:
#     cis-aws-3.0: [2.2.1]
#     aws-fsbp: [EC2.7]
#   remediation: >-
#     Enable it per region: aws ec2 enable-ebs-encryption-by-default.
#   kinds: [AWS::EC2::EBSEncryptionByDefault]
package gitdrift.aws.ec2.ebs_encryption_by_default

import data.gitdrift.lib.aws.live

deny contains msg if {
	live
	not input.resource.EbsEncryptionByDefault == true
	msg := sprintf("EBS encryption by default is off in %s", [object.get(input.gitdrift, "namespace", "this region")])
}

deny contains msg if {
	not live
	input.resource.EbsEncryptionByDefault == false
	msg := "EBS encryption by default is declared off"
}
