# METADATA
# title: Privilege escalation
# description: >-
#   Privilege escalation (such as via set-user-ID or set-group-ID file mode) should not be
#   allowed: every container must set allowPrivilegeEscalation to false (Linux pods).
# custom:
#   id: pss-restricted-privilege-escalation
#   severity: medium
#   controls:
#     pss: [restricted/allowPrivilegeEscalation]
#   remediation: >-
#     Set securityContext.allowPrivilegeEscalation: false on every container.
#   kinds: [Pod, Deployment.apps, StatefulSet.apps, DaemonSet.apps, ReplicaSet.apps, Job.batch, CronJob.batch]
#   reads:
#     - pod.spec.os.name
#     - pod.spec.{containers,initContainers,ephemeralContainers}.*.name
#     - pod.spec.{containers,initContainers,ephemeralContainers}.*.securityContext.allowPrivilegeEscalation
package gitdrift.pss.restricted.privilege_escalation

import data.gitdrift.lib.kubernetes as k8s
import data.gitdrift.lib.kubernetes.containers
import data.gitdrift.lib.kubernetes.windows

deny contains msg if {
	not windows
	some c in containers
	not c.security_context.allowPrivilegeEscalation == false
	msg := sprintf("allowPrivilegeEscalation: %s must set securityContext.allowPrivilegeEscalation=false", [k8s.describe(c)])
}
