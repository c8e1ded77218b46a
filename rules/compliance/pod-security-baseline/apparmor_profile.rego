# METADATA
# title: AppArmor
# description: >-
#   On supported hosts the RuntimeDefault AppArmor profile is applied by default; overriding it
#   with Unconfined must be prevented.
# custom:
#   id: pss-baseline-apparmor-profile
#   severity: high
#   controls:
#     pss: [baseline/appArmorProfile]
#   remediation: >-
#     Use appArmorProfile type RuntimeDefault or Localhost (or the runtime/default and localhost/ annotation values).
#   kinds: [Pod, Deployment.apps, StatefulSet.apps, DaemonSet.apps, ReplicaSet.apps, Job.batch, CronJob.batch]
#   reads:
#     - pod.spec.securityContext.appArmorProfile
#     - pod.spec.{containers,initContainers,ephemeralContainers}.*.name
#     - pod.spec.{containers,initContainers,ephemeralContainers}.*.securityContext.appArmorProfile
#     - pod.metadata.annotations
package gitdrift.pss.baseline.apparmor_profile

import data.gitdrift.lib.kubernetes as k8s
import data.gitdrift.lib.kubernetes.pod_security_context
import data.gitdrift.lib.kubernetes.pod_metadata
import data.gitdrift.lib.kubernetes.containers

allowed_type(profile) if profile.type in {"RuntimeDefault", "Localhost"}

allowed_annotation(value) if value == ""

allowed_annotation(value) if value == "runtime/default"

allowed_annotation(value) if startswith(value, "localhost/")

deny contains msg if {
	profile := pod_security_context.appArmorProfile
	not allowed_type(profile)
	msg := sprintf("appArmorProfile: pod sets appArmorProfile type %v", [object.get(profile, "type", "")])
}

deny contains msg if {
	some c in containers
	profile := c.security_context.appArmorProfile
	not allowed_type(profile)
	msg := sprintf("appArmorProfile: %s sets appArmorProfile type %v", [k8s.describe(c), object.get(profile, "type", "")])
}

deny contains msg if {
	some key, value in object.get(pod_metadata, "annotations", {})
	startswith(key, "container.apparmor.security.beta.kubernetes.io/")
	not allowed_annotation(value)
	msg := sprintf("appArmorProfile: annotation %s is %q", [key, value])
}
