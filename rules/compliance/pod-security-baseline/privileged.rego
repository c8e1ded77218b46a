# METADATA
# title: Privileged containers
# description: >-
#   Privileged containers disable most security mechanisms and must be disallowed.
# custom:
#   id: pss-baseline-privileged
#   severity: high
#   controls:
#     pss: [baseline/privileged]
#   remediation: >-
#     Remove securityContext.privileged from every container, or set it to false.
#   kinds: [Pod, Deployment.apps, StatefulSet.apps, DaemonSet.apps, ReplicaSet.apps, Job.batch, CronJob.batch]
#   reads:
#     - pod.spec.{containers,initContainers,ephemeralContainers}.*.name
#     - pod.spec.{containers,initContainers,ephemeralContainers}.*.securityContext.privileged
package gitdrift.pss.baseline.privileged

import data.gitdrift.lib.kubernetes as k8s
import data.gitdrift.lib.kubernetes.containers

deny contains msg if {
	some c in containers
	c.security_context.privileged == true
	msg := sprintf("privileged: %s sets securityContext.privileged=true", [k8s.describe(c)])
}
