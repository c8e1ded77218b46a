# METADATA
# title: Running as non-root user
# description: >-
#   Containers must not set runAsUser to 0.
# custom:
#   id: pss-restricted-run-as-user
#   severity: medium
#   controls:
#     pss: [restricted/runAsUser]
#   remediation: >-
#     Set runAsUser to a non-zero user id, or leave it unset with runAsNonRoot: true.
#   kinds: [Pod, Deployment.apps, StatefulSet.apps, DaemonSet.apps, ReplicaSet.apps, Job.batch, CronJob.batch]
#   reads:
#     - pod.spec.securityContext.runAsUser
#     - pod.spec.{containers,initContainers,ephemeralContainers}.*.name
#     - pod.spec.{containers,initContainers,ephemeralContainers}.*.securityContext.runAsUser
package gitdrift.pss.restricted.run_as_user

import data.gitdrift.lib.kubernetes as k8s
import data.gitdrift.lib.kubernetes.pod_security_context
import data.gitdrift.lib.kubernetes.containers

deny contains msg if {
	pod_security_context.runAsUser == 0
	msg := "runAsUser: pod sets securityContext.runAsUser=0"
}

deny contains msg if {
	some c in containers
	c.security_context.runAsUser == 0
	msg := sprintf("runAsUser: %s sets securityContext.runAsUser=0", [k8s.describe(c)])
}
