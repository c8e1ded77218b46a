# Helpers for rules on Kubernetes workloads: the pod spec and metadata of a Pod or of a
# workload's pod template, and every container with where it sits.
package gitdrift.lib.kubernetes

# Kinds whose spec.template is a pod template.
template_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"}

# The pod spec; undefined for kinds that have none.
pod_spec = input.resource.spec if input.resource.kind == "Pod"

pod_spec = input.resource.spec.template.spec if input.resource.kind in template_kinds

pod_spec = input.resource.spec.jobTemplate.spec.template.spec if input.resource.kind == "CronJob"

# The pod's metadata (annotations live here).
pod_metadata = object.get(input.resource, "metadata", {}) if input.resource.kind == "Pod"

pod_metadata = object.get(input.resource.spec.template, "metadata", {}) if input.resource.kind in template_kinds

pod_metadata = object.get(input.resource.spec.jobTemplate.spec.template, "metadata", {}) if input.resource.kind == "CronJob"

# The pod-level security context ({} when unset).
pod_security_context := object.get(pod_spec, "securityContext", {})

# Every container, init container and ephemeral container: {"field", "name", "container",
# "security_context"} (its security context, {} when unset: rules read it from here rather than
# through `security_context(c)`, computed once per resource instead of once per rule).
# (A list, not a set: a set would compare whole containers to keep them unique.)
containers := [{"field": field, "name": c.name, "container": c, "security_context": object.get(c, "securityContext", {})} |
	some field in ["containers", "initContainers", "ephemeralContainers"]
	some c in object.get(pod_spec, field, [])
	is_object(c)
]

# A container's security context ({} when unset).
security_context(c) := object.get(c.container, "securityContext", {})

# How a container is named in messages.
describe(c) := sprintf("container %q", [c.name]) if c.field == "containers"

describe(c) := sprintf("init container %q", [c.name]) if c.field == "initContainers"

describe(c) := sprintf("ephemeral container %q", [c.name]) if c.field == "ephemeralContainers"

# Whether the pod declares itself a Windows pod (some Linux-only checks do not apply).
windows if pod_spec.os.name == "windows"
