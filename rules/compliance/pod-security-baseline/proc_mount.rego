# METADATA
# title: /proc mount type
# description: >-
#   The default /proc masks are set up to reduce attack surface and should be required, except
#   for pods in their own user namespace (hostUsers: false).
# custom:
#   id: pss-baseline-proc-mount
#   severity: high
#   controls:
#     pss: [baseline/procMount]
#   remediation: >-
#     Leave procMount unset or Default (or run the pod with hostUsers: false).
#   kinds: [Pod, Deployment.apps, StatefulSet.apps, DaemonSet.apps, ReplicaSet.apps, Job.batch, CronJob.batch]
#   reads:
#     - pod.spec.hostUsers
#     - pod.spec.{containers,initContainers,ephemeralContainers}.*.name
#     - pod.spec.{containers,initContainers,ephemeralContainers}.*.securityContext.procMount
package gitdrift.pss.baseline.proc_mount

import data.gitdrift.lib.kubernetes as k8s
import data.gitdrift.lib.kubernetes.pod_spec
import data.gitdrift.lib.kubernetes.containers

deny contains msg if {
	not pod_spec.hostUsers == false
	some c in containers
	mount := c.security_context.procMount
	mount != "Default"
	msg := sprintf("procMount: %s sets procMount %v", [k8s.describe(c), mount])
}
