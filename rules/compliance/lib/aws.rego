# Helpers for rules on AWS resources (the EC2 API's describe shape).
package gitdrift.lib.aws

# Whether the resource is the live one (declared properties may leave fields out).
live if input.gitdrift.side == "live"

# The world, in either address family.
world_ipv4 := "0.0.0.0/0"

world_ipv6 := "::/0"

# Whether a security-group permission or ACL entry's protocol is all traffic.
all_protocols(protocol) if lower(sprintf("%v", [protocol])) in {"-1", "all"}

# Whether a protocol is TCP (by name or number).
tcp(protocol) if lower(sprintf("%v", [protocol])) in {"tcp", "6"}

# Whether a security-group permission lets `port` in over TCP.
permits_port(permission, port) if all_protocols(permission.IpProtocol)

permits_port(permission, port) if {
	tcp(permission.IpProtocol)
	object.get(permission, "FromPort", 0) <= port
	port <= object.get(permission, "ToPort", 65535)
}

# Tags as a map, whether described as [{Key, Value}] or declared as a map.
tags := {t.Key: object.get(t, "Value", "") | some t in input.resource.Tags} if is_array(input.resource.Tags)

tags := input.resource.Tags if is_object(input.resource.Tags)

tags := {} if not input.resource.Tags

# The tags of any described resource.
tags_of(resource) := {t.Key: object.get(t, "Value", "") | some t in resource.Tags} if is_array(resource.Tags)

tags_of(resource) := resource.Tags if is_object(resource.Tags)

tags_of(resource) := {} if not resource.Tags
