# METADATA
# title: Host namespaces
# description: >-
#   Sharing the host namespaces must be disallowed: hostNetwork, hostPID and hostIPC give a pod
#   the node's network, processes and shared memory.
# custom:
#   id: pss-baseline-host-namespaces
#   severity: high
#   controls:
#     pss: [baseline/hostNamespaces]
#   remediation: >-
#     Remove hostNetwork, hostPID and hostIPC from the pod spec, or set them to false.
#   kinds: [Pod, Deployment.apps, StatefulSet.apps, DaemonSet.apps, ReplicaSet.apps, Job.batch, CronJob.batch]
#   reads:
#     - pod.spec.{hostNetwork,hostPID,hostIPC}
package gitdrift.pss.baseline.host_namespaces

import data.gitdrift.lib.kubernetes.pod_spec

deny contains msg if {
	some field in ["hostNetwork", "hostPID", "hostIPC"]
	pod_spec[field] == true
	msg := sprintf("hostNamespaces: pod sets %s=true", [field])
}
