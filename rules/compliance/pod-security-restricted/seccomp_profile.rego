# METADATA
# title: Seccomp
# description: >-
#   Seccomp profile must be explicitly set to RuntimeDefault or Localhost, on the pod or on
#   every container (Linux pods).
# custom:
#   id: pss-restricted-seccomp-profile
#   severity: medium
#   controls:
#     pss: [restricted/seccompProfile_restricted]
#   remediation: >-
#     Set securityContext.seccompProfile.type: RuntimeDefault on the pod.
#   kinds: [Pod, Deployment.apps, StatefulSet.apps, DaemonSet.apps, ReplicaSet.apps, Job.batch, CronJob.batch]
#   reads:
#     - pod.spec.os.name
#     - pod.spec.securityContext.seccompProfile.type
#     - pod.spec.{containers,initContainers,ephemeralContainers}.*.name
#     - pod.spec.{containers,initContainers,ephemeralContainers}.*.securityContext.seccompProfile.type
package gitdrift.pss.restricted.seccomp_profile

import data.gitdrift.lib.kubernetes as k8s
import data.gitdrift.lib.kubernetes.pod_security_context
import data.gitdrift.lib.kubernetes.containers
import data.gitdrift.lib.kubernetes.windows

allowed := {"RuntimeDefault", "Localhost"}

pod_profile := pod_security_context.seccompProfile.type

deny contains msg if {
	not windows
	pod_profile
	not pod_profile in allowed
	msg := sprintf("seccompProfile_restricted: pod sets seccompProfile type %v", [pod_profile])
}

deny contains msg if {
	not windows
	some c in containers
	profile := c.security_context.seccompProfile.type
	not profile in allowed
	msg := sprintf("seccompProfile_restricted: %s sets seccompProfile type %v", [k8s.describe(c), profile])
}

deny contains msg if {
	not windows
	not pod_profile
	some c in containers
	not c.security_context.seccompProfile.type
	msg := sprintf("seccompProfile_restricted: neither the pod nor %s sets a seccompProfile", [k8s.describe(c)])
}
