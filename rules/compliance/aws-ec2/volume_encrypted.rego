# METADATA
# title: Unencrypted EBS volume
# description: >-
#   EBS volumes should be encrypted at rest.
# custom:
#   id: aws-ec2-volume-encrypted
#   severity: medium
#   controls:
#     aws-fsbp: [EC2.3]
#   remediation: >-
#     Create an encrypted copy of the volume (snapshot, copy with encryption, restore) and replace it; enable EBS encryption by default.
#   kinds: [AWS::EC2::Volume]
package gitdrift.aws.ec2.volume_encrypted

import data.gitdrift.lib.aws.live

deny contains msg if {
	live
	not input.resource.Encrypted == true
	msg := sprintf("volume %s is not encrypted", [object.get(input.resource, "VolumeId", "")])
}

deny contains msg if {
	not live
	input.resource.Encrypted == false
	msg := "volume is declared unencrypted"
}
