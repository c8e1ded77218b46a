package gitdrift.pss.baseline.sysctls_test

import data.gitdrift.pss.baseline.sysctls as rule

pod(spec) := {"resource": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}}

test_kernel_msgmax_is_denied if {
	count(rule.deny) > 0 with input as pod({"containers": [{"name": "app"}], "securityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "1"}]}})
}

test_safe_is_allowed if {
	count(rule.deny) == 0 with input as pod({"containers": [{"name": "app"}], "securityContext": {"sysctls": [{"name": "net.ipv4.tcp_syncookies", "value": "1"}]}})
}
