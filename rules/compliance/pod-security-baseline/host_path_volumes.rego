# METADATA
# title: HostPath volumes
# description: >-
#   HostPath volumes give a pod access to the node's file system and must be forbidden.
# custom:
#   id: pss-baseline-host-path-volumes
#   severity: high
#   controls:
#     pss: [baseline/hostPathVolumes]
#   remediation: >-
#     Replace hostPath volumes with persistent volume claims, configMaps, secrets or emptyDir.
#   kinds: [Pod, Deployment.apps, StatefulSet.apps, DaemonSet.apps, ReplicaSet.apps, Job.batch, CronJob.batch]
#   reads:
#     - pod.spec.volumes.*.{name,hostPath}
package gitdrift.pss.baseline.host_path_volumes

import data.gitdrift.lib.kubernetes.pod_spec

deny contains msg if {
	some volume in object.get(pod_spec, "volumes", [])
	volume.hostPath
	msg := sprintf("hostPathVolumes: volume %q is a hostPath volume", [volume.name])
}
