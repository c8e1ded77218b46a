# METADATA
# title: Probes and lifecycle hooks on other hosts
# description: >-
#   Probes and lifecycle handlers must not reach other hosts: the host field of httpGet and
#   tcpSocket handlers must be unset.
# custom:
#   id: pss-baseline-host-probes
#   severity: high
#   controls:
#     pss: [baseline/hostProbesAndHostLifecycle]
#   remediation: >-
#     Remove host from httpGet and tcpSocket probes and lifecycle handlers (they then target the pod).
#   kinds: [Pod, Deployment.apps, StatefulSet.apps, DaemonSet.apps, ReplicaSet.apps, Job.batch, CronJob.batch]
#   reads:
#     - pod.spec.{containers,initContainers,ephemeralContainers}.*.name
#     - pod.spec.{containers,initContainers,ephemeralContainers}.*.{livenessProbe,readinessProbe,startupProbe}.{httpGet,tcpSocket}.host
#     - pod.spec.{containers,initContainers,ephemeralContainers}.*.lifecycle.{postStart,preStop}.{httpGet,tcpSocket}.host
package gitdrift.pss.baseline.host_probes

import data.gitdrift.lib.kubernetes as k8s
import data.gitdrift.lib.kubernetes.containers

probes := [{"c": c, "where": probe, "handler": c.container[probe]} |
	some c in containers
	some probe in ["livenessProbe", "readinessProbe", "startupProbe"]
	c.container[probe]
]

hooks := [{"c": c, "where": sprintf("lifecycle.%s", [hook]), "handler": c.container.lifecycle[hook]} |
	some c in containers
	some hook in ["postStart", "preStop"]
	c.container.lifecycle[hook]
]

handlers := array.concat(probes, hooks)

deny contains msg if {
	some h in handlers
	some kind in ["httpGet", "tcpSocket"]
	host := h.handler[kind].host
	host != ""
	msg := sprintf("hostProbesAndHostLifecycle: %s %s.%s.host is %q", [k8s.describe(h.c), h.where, kind, host])
}
