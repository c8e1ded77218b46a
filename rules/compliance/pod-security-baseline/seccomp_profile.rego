# METADATA
# title: Seccomp
# description: >-
#   Seccomp profile must not be explicitly set to Unconfined.
# custom:
#   id: pss-baseline-seccomp-profile
#   severity: high
#   controls:
#     pss: [baseline/seccompProfile_baseline]
#   remediation: >-
#     Set seccompProfile type RuntimeDefault or Localhost, or leave it unset.
#   kinds: [Pod, Deployment.apps, StatefulSet.apps, DaemonSet.apps, ReplicaSet.apps, Job.batch, CronJob.batch]
#   reads:
#     - pod.spec.securityContext.seccompProfile.type
#     - pod.spec.{containers,initContainers,ephemeralContainers}.*.name
#     - pod.spec.{containers,initContainers,ephemeralContainers}.*.securityContext.seccompProfile.type
package gitdrift.pss.baseline.seccomp_profile

import data.gitdrift.lib.kubernetes as k8s
import data.gitdrift.lib.kubernetes.pod_security_context
import data.gitdrift.lib.kubernetes.containers

deny contains msg if {
	pod_security_context.seccompProfile.type == "Unconfined"
	msg := "seccompProfile_baseline: pod sets seccompProfile type Unconfined"
}

deny contains msg if {
	some c in containers
	c.security_context.seccompProfile.type == "Unconfined"
	msg := sprintf("seccompProfile_baseline: %s sets seccompProfile type Unconfined", [k8s.describe(c)])
}
