# METADATA
# title: Capabilities
# description: >-
#   Containers must drop ALL capabilities, and are only permitted to add back the
#   NET_BIND_SERVICE capability (Linux pods).
# custom:
#   id: pss-restricted-capabilities
#   severity: medium
#   controls:
#     pss: [restricted/capabilities_restricted]
#   remediation: >-
#     Set securityContext.capabilities.drop: [ALL] on every container; add at most NET_BIND_SERVICE.
#   kinds: [Pod, Deployment.apps, StatefulSet.apps, DaemonSet.apps, ReplicaSet.apps, Job.batch, CronJob.batch]
#   reads:
#     - pod.spec.os.name
#     - pod.spec.{containers,initContainers,ephemeralContainers}.*.name
#     - pod.spec.{containers,initContainers,ephemeralContainers}.*.securityContext.capabilities
package gitdrift.pss.restricted.capabilities

import data.gitdrift.lib.kubernetes as k8s
import data.gitdrift.lib.kubernetes.containers
import data.gitdrift.lib.kubernetes.windows

deny contains msg if {
	not windows
	some c in containers
	not "ALL" in object.get(c.security_context, ["capabilities", "drop"], [])
	msg := sprintf("capabilities_restricted: %s must drop ALL capabilities", [k8s.describe(c)])
}

deny contains msg if {
	not windows
	some c in containers
	some capability in object.get(c.security_context, ["capabilities", "add"], [])
	capability != "NET_BIND_SERVICE"
	msg := sprintf("capabilities_restricted: %s adds capability %s", [k8s.describe(c), capability])
}
