# METADATA
# title: /proc mount type
# description: >-
#   The default /proc masks are required, even for pods in their own user namespace.
# custom:
#   id: pss-restricted-proc-mount
#   severity: medium
#   controls:
#     pss: [restricted/procMount_restricted]
#   remediation: >-
#     Leave procMount unset or Default.
#   kinds: [Pod, Deployment.apps, StatefulSet.apps, DaemonSet.apps, ReplicaSet.apps, Job.batch, CronJob.batch]
#   reads:
#     - pod.spec.{containers,initContainers,ephemeralContainers}.*.name
#     - pod.spec.{containers,initContainers,ephemeralContainers}.*.securityContext.procMount
package gitdrift.pss.restricted.proc_mount

import data.gitdrift.lib.kubernetes as k8s
import data.gitdrift.lib.kubernetes.containers

deny contains msg if {
	some c in containers
	mount := c.security_context.procMount
	mount != "Default"
	msg := sprintf("procMount_restricted: %s sets procMount %v", [k8s.describe(c), mount])
}
