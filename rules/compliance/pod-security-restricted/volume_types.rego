# METADATA
# title: Volume types
# description: >-
#   The restricted policy only permits these volume types: configMap, csi, downwardAPI,
#   emptyDir, ephemeral, image, persistentVolumeClaim, projected and secret.
# custom:
#   id: pss-restricted-volume-types
#   severity: medium
#   controls:
#     pss: [restricted/restrictedVolumes]
#   remediation: >-
#     Use only configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected or secret volumes.
#   kinds: [Pod, Deployment.apps, StatefulSet.apps, DaemonSet.apps, ReplicaSet.apps, Job.batch, CronJob.batch]
#   reads:
#     - pod.spec.volumes.*.name
#     - pod.spec.volumes.*.*?
package gitdrift.pss.restricted.volume_types

import data.gitdrift.lib.kubernetes.pod_spec

allowed := {
	"name", "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
	"persistentVolumeClaim", "projected", "secret",
}

deny contains msg if {
	some volume in object.get(pod_spec, "volumes", [])
	some field, _ in volume
	not field in allowed
	msg := sprintf("restrictedVolumes: volume %q is a %s volume", [volume.name, field])
}
