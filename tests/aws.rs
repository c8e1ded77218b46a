//! AWS targets end to end: the built binary scans moto's EC2 server (started per test, seeded
//! with boto3, tests/support/moto.rs) against declarations in git, both gitdrift's own and
//! Terraform state; after every scan, moto's recording and the proxy in front of it show that
//! only Describe/Get/List calls were made.

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Value, json};
use support::moto::{Call, Moto};
use support::{Repo, Run, gitdrift, resource};

/// Every type gitdrift reads, in one VPC of eu-west-1.
const SEED_SHOP: &str = r#"
c = ec2()
vpc = c.create_vpc(CidrBlock="10.10.0.0/16", TagSpecifications=tag("vpc", Name="shop", env="prod"))["Vpc"]["VpcId"]
subnet = c.create_subnet(VpcId=vpc, CidrBlock="10.10.1.0/24", AvailabilityZone="eu-west-1a", TagSpecifications=tag("subnet", Name="shop-a"))["Subnet"]["SubnetId"]
sg = c.create_security_group(GroupName="web", Description="web servers", VpcId=vpc, TagSpecifications=tag("security-group", Name="web"))["GroupId"]
c.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
    {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/8"}, {"CidrIp": "192.168.0.0/16"}]},
    {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
igw = c.create_internet_gateway(TagSpecifications=tag("internet-gateway", Name="shop"))["InternetGateway"]["InternetGatewayId"]
c.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
rt = c.create_route_table(VpcId=vpc, TagSpecifications=tag("route-table", Name="public"))["RouteTable"]["RouteTableId"]
c.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
c.associate_route_table(RouteTableId=rt, SubnetId=subnet)
eip = c.allocate_address(Domain="vpc", TagSpecifications=tag("elastic-ip", Name="nat"))["AllocationId"]
nat = c.create_nat_gateway(SubnetId=subnet, AllocationId=eip, TagSpecifications=tag("natgateway", Name="shop"))["NatGateway"]["NatGatewayId"]
vol = c.create_volume(AvailabilityZone="eu-west-1a", Size=20, VolumeType="gp3", Encrypted=True, TagSpecifications=tag("volume", Name="data"))["VolumeId"]
acl = c.create_network_acl(VpcId=vpc, TagSpecifications=tag("network-acl", Name="shop"))["NetworkAcl"]["NetworkAclId"]
c.create_network_acl_entry(NetworkAclId=acl, RuleNumber=100, Protocol="6", RuleAction="allow", Egress=False, CidrBlock="0.0.0.0/0", PortRange={"From": 443, "To": 443})
lt = c.create_launch_template(LaunchTemplateName="web", LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.small", "MetadataOptions": {"HttpTokens": "required"}}, TagSpecifications=tag("launch-template", Name="web"))["LaunchTemplate"]["LaunchTemplateId"]
key = c.create_key_pair(KeyName="deploy", TagSpecifications=tag("key-pair", Name="deploy"))["KeyPairId"]
logs().create_log_group(logGroupName="flows")
fl = c.create_flow_logs(ResourceIds=[vpc], ResourceType="VPC", TrafficType="REJECT", LogGroupName="flows", DeliverLogsPermissionArn="arn:aws:iam::123456789012:role/flows", TagSpecifications=tag("vpc-flow-log", Name="shop"))["FlowLogIds"][0]
inst = c.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t3.micro", SubnetId=subnet, SecurityGroupIds=[sg], KeyName="deploy", TagSpecifications=tag("instance", Name="web-1", team="shop"))["Instances"][0]["InstanceId"]
ep = c.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.eu-west-1.ssm", VpcEndpointType="Interface", SubnetIds=[subnet], SecurityGroupIds=[sg], PrivateDnsEnabled=True, TagSpecifications=tag("vpc-endpoint", Name="ssm"))["VpcEndpoint"]["VpcEndpointId"]
out.update(vpc=vpc, subnet=subnet, sg=sg, igw=igw, rt=rt, eip=eip, nat=nat, vol=vol, acl=acl, lt=lt, key=key, fl=fl, inst=inst, ep=ep)
"#;

/// One `AWSResource` document.
fn declare(name: &str, resource_type: &str, matcher: &str, properties: &str) -> String {
    let mut out = format!(
        "---\napiVersion: gitdrift.dev/v1\nkind: AWSResource\nmetadata: {{name: {name}}}\nspec:\n  type: {resource_type}\n  match: {matcher}\n"
    );
    if !properties.is_empty() {
        out.push_str("  properties:\n");
        for line in properties.lines() {
            out.push_str(&format!("    {line}\n"));
        }
    }
    out
}

/// Declarations of everything [`SEED_SHOP`] made. The security group's rules and ranges are
/// listed in another order than AWS returns them, with the protocol as a number.
fn shop_declarations(ids: &Value) -> String {
    let id = |k: &str| ids[k].as_str().unwrap().to_string();
    [
        declare(
            "shop-vpc",
            "AWS::EC2::VPC",
            "{tags: {Name: shop}}",
            "CidrBlock: 10.10.0.0/16\nInstanceTenancy: default\nTags: {Name: shop, env: prod}",
        ),
        declare(
            "shop-a",
            "AWS::EC2::Subnet",
            "{tags: {Name: shop-a}}",
            &format!(
                "VpcId: {}\nCidrBlock: 10.10.1.0/24\nAvailabilityZone: eu-west-1a\nMapPublicIpOnLaunch: false",
                id("vpc")
            ),
        ),
        declare(
            "web-sg",
            "AWS::EC2::SecurityGroup",
            "{tags: {Name: web}}",
            "GroupName: web\nDescription: web servers\nIpPermissions:\n  - {IpProtocol: \"6\", FromPort: 80, ToPort: 80, IpRanges: [{CidrIp: 0.0.0.0/0}]}\n  - {IpProtocol: tcp, FromPort: 443, ToPort: 443, IpRanges: [{CidrIp: 192.168.0.0/16}, {CidrIp: 10.0.0.0/8}]}\nIpPermissionsEgress:\n  - {IpProtocol: \"-1\", IpRanges: [{CidrIp: 0.0.0.0/0}]}",
        ),
        declare(
            "public",
            "AWS::EC2::RouteTable",
            "{tags: {Name: public}}",
            &format!(
                "Routes: [{{DestinationCidrBlock: 0.0.0.0/0, GatewayId: {}}}]\nAssociations: [{{SubnetId: {}}}]",
                id("igw"),
                id("subnet")
            ),
        ),
        declare(
            "shop-igw",
            "AWS::EC2::InternetGateway",
            "{tags: {Name: shop}}",
            &format!(
                "Attachments: [{{VpcId: {}}}]\nTags: {{Name: shop}}",
                id("vpc")
            ),
        )
        .replace("  properties:", "  exhaustiveTags: true\n  properties:"),
        declare(
            "shop-nat",
            "AWS::EC2::NatGateway",
            &format!("{{id: {}}}", id("nat")),
            &format!("SubnetId: {}\nTags: {{Name: shop}}", id("subnet")),
        ),
        declare(
            "nat-ip",
            "AWS::EC2::EIP",
            &format!("{{id: {}}}", id("eip")),
            "Domain: vpc\nTags: {Name: nat}",
        ),
        declare(
            "data",
            "AWS::EC2::Volume",
            "{tags: {Name: data}}",
            "Size: 20\nVolumeType: gp3\nEncrypted: true\nAvailabilityZone: eu-west-1a",
        ),
        declare(
            "shop-acl",
            "AWS::EC2::NetworkAcl",
            "{tags: {Name: shop}}",
            "Entries:\n  - {RuleNumber: 100, Protocol: tcp, RuleAction: allow, Egress: false, CidrBlock: 0.0.0.0/0, PortRange: {From: 443, To: 443}}",
        ),
        declare(
            "web-template",
            "AWS::EC2::LaunchTemplate",
            "{tags: {Name: web}}",
            "LaunchTemplateName: web\nLaunchTemplateData:\n  InstanceType: t3.small\n  MetadataOptions: {HttpTokens: required}",
        ),
        declare(
            "deploy-key",
            "AWS::EC2::KeyPair",
            &format!("{{id: {}}}", id("key")),
            "KeyName: deploy\nTags: {Name: deploy}",
        ),
        declare(
            "shop-flows",
            "AWS::EC2::FlowLog",
            "{tags: {Name: shop}}",
            &format!(
                "ResourceId: {}\nTrafficType: REJECT\nLogGroupName: flows",
                id("vpc")
            ),
        ),
        declare(
            "web-1",
            "AWS::EC2::Instance",
            "{tags: {Name: web-1}}",
            &format!(
                "InstanceType: t3.micro\nImageId: ami-12c6146b\nSubnetId: {}\nSecurityGroups: [{{GroupId: {}}}]\nTags: {{Name: web-1, team: shop}}",
                id("subnet"),
                id("sg")
            ),
        ),
        declare(
            "ebs-default",
            "AWS::EC2::EBSEncryptionByDefault",
            "{}",
            "EbsEncryptionByDefault: false",
        ),
        declare(
            "ssm-endpoint",
            "AWS::EC2::VPCEndpoint",
            "{tags: {Name: ssm}}",
            &format!(
                "VpcEndpointType: Interface\nServiceName: com.amazonaws.eu-west-1.ssm\nVpcId: {}\nSubnetIds: [{}]\nGroups: [{{GroupId: {}}}]\nPrivateDnsEnabled: true\nPolicyDocument: {{Version: \"2008-10-17\", Statement: [{{Effect: Allow, Principal: \"*\", Action: \"*\", Resource: \"*\"}}]}}",
                id("vpc"),
                id("subnet"),
                id("sg")
            ),
        ),
    ]
    .concat()
}

/// A repository holding `files`, and its config: one AWS target reading `regions` through the
/// moto front, one source of the repository's `aws/` folder.
fn repo_with(moto: &Moto, files: &[(&str, &str)], target_extra: &str) -> Repo {
    let repo = Repo::new();
    for (path, text) in files {
        repo.write(path, text);
    }
    repo.commit("declarations");
    write_config(
        &repo,
        &format!(
            "sources:\n  - name: infra\n    repo: .\n    paths: [\"aws/**\"]\n    target: prod\n    region: eu-west-1\ntargets:\n{}",
            aws_target("prod", moto, target_extra)
        ),
    );
    repo
}

fn aws_target(name: &str, moto: &Moto, extra: &str) -> String {
    format!(
        "  - name: {name}\n    aws:\n      regions: [eu-west-1]\n      endpoint_url: {}\n      max_attempts: 4\n{extra}",
        moto.endpoint()
    )
}

fn write_config(repo: &Repo, text: &str) {
    std::fs::write(repo.path().join("gitdrift.yaml"), text).unwrap();
}

/// Runs a command against moto with the recorder on; fails unless only reads were made.
fn run(moto: &Moto, dir: &Path, args: &[&str]) -> (Run, Vec<Call>) {
    moto.start_recording();
    let env = moto.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let run = gitdrift(dir, args, &env);
    let calls = moto.assert_only_reads();
    (run, calls)
}

/// A JSON scan; fails unless only reads were made.
fn scan(moto: &Moto, dir: &Path) -> (Value, Vec<Call>) {
    let (run, calls) = run(moto, dir, &["scan", "--format", "json"]);
    assert!(
        (0..=2).contains(&run.code),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    (run.json(), calls)
}

fn statuses(report: &Value, status: &str) -> BTreeSet<(String, String)> {
    report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == status)
        .map(|r| {
            (
                r["kind"].as_str().unwrap().to_string(),
                r["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn coverage<'a>(report: &'a Value, target: &str, resource_type: &str) -> &'a Value {
    report["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["target"] == target && c["type"] == resource_type)
        .unwrap_or_else(|| panic!("no coverage of {resource_type} in {:#}", report["coverage"]))
}

/// The one drift of a resource at `path`.
fn drift<'a>(report: &'a Value, kind: &str, name: &str, path: &str) -> &'a Value {
    let r = resource(report, kind, name);
    assert_eq!(r["status"], "drifted", "{kind} {name}: {r:#}");
    r["drifts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["path"].as_str().unwrap().starts_with(path))
        .unwrap_or_else(|| panic!("{kind} {name} has no drift at {path}: {r:#}"))
}

#[test]
fn every_type_is_in_sync_then_each_drifts_by_hand() {
    let moto = Moto::start();
    let ids = moto.python(SEED_SHOP);
    let id = |k: &str| ids[k].as_str().unwrap().to_string();
    let repo = repo_with(&moto, &[("aws/shop.yaml", &shop_declarations(&ids))], "");
    let (report, calls) = scan(&moto, repo.path());
    assert_eq!(report["summary"]["errors"], 0, "{:#}", report["problems"]);
    let in_sync = statuses(&report, "in_sync");
    let expected: BTreeSet<(String, String)> = [
        ("AWS::EC2::VPC", id("vpc")),
        ("AWS::EC2::Subnet", id("subnet")),
        ("AWS::EC2::SecurityGroup", id("sg")),
        ("AWS::EC2::RouteTable", id("rt")),
        ("AWS::EC2::InternetGateway", id("igw")),
        ("AWS::EC2::NatGateway", id("nat")),
        ("AWS::EC2::EIP", id("eip")),
        ("AWS::EC2::Volume", id("vol")),
        ("AWS::EC2::NetworkAcl", id("acl")),
        ("AWS::EC2::LaunchTemplate", id("lt")),
        ("AWS::EC2::KeyPair", id("key")),
        ("AWS::EC2::FlowLog", id("fl")),
        ("AWS::EC2::Instance", id("inst")),
        ("AWS::EC2::EBSEncryptionByDefault", "eu-west-1".to_string()),
        ("AWS::EC2::VPCEndpoint", id("ep")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(
        in_sync, expected,
        "every declared type in sync (reordered rules and ranges are not drift): {:#}",
        report["resources"]
    );
    assert!(statuses(&report, "drifted").is_empty());
    assert!(statuses(&report, "missing").is_empty());
    // Health from the state each type has, and the instance's status checks.
    let health = |kind: &str, name: &str| {
        let h = &resource(&report, kind, name)["health"];
        (
            h["status"].as_str().unwrap_or_default().to_string(),
            h["reason"].as_str().unwrap_or_default().to_string(),
        )
    };
    let pair = |s: &str, r: &str| (s.to_string(), r.to_string());
    for (kind, key, reason) in [
        ("AWS::EC2::Instance", "inst", "running; status checks ok"),
        ("AWS::EC2::NatGateway", "nat", "available"),
        ("AWS::EC2::Volume", "vol", "available, not attached"),
        ("AWS::EC2::VPCEndpoint", "ep", "available"),
        ("AWS::EC2::SecurityGroup", "sg", "exists"),
    ] {
        assert_eq!(health(kind, &id(key)), pair("healthy", reason), "{kind}");
    }
    assert_eq!(
        report["summary"]["health"],
        json!({"healthy": report["resources"].as_array().unwrap().len()}),
        "everything moto made is healthy"
    );
    // One paginated Describe per type (and the instances' status checks) (two Gets for the account setting, two calls for launch
    // templates and their default versions).
    let mut actions: Vec<&str> = calls.iter().map(|c| c.action.as_str()).collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            "DescribeAddresses",
            "DescribeFlowLogs",
            "DescribeInstanceStatus",
            "DescribeInstances",
            "DescribeInternetGateways",
            "DescribeKeyPairs",
            "DescribeLaunchTemplateVersions",
            "DescribeLaunchTemplates",
            "DescribeNatGateways",
            "DescribeNetworkAcls",
            "DescribeRouteTables",
            "DescribeSecurityGroups",
            "DescribeSubnets",
            "DescribeVolumes",
            "DescribeVpcEndpoints",
            "DescribeVpcs",
            "GetEbsEncryptionByDefault",
        ],
        "GetEbsDefaultKmsKeyId is answered by the front (moto lacks it)"
    );

    // Hands in the console, one change per type.
    moto.python(&format!(
        r#"
c = ec2()
c.delete_tags(Resources=["{vpc}"], Tags=[{{"Key": "env"}}])
c.modify_subnet_attribute(SubnetId="{subnet}", MapPublicIpOnLaunch={{"Value": True}})
c.authorize_security_group_ingress(GroupId="{sg}", IpPermissions=[{{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{{"CidrIp": "0.0.0.0/0"}}]}}])
c.create_route(RouteTableId="{rt}", DestinationCidrBlock="10.99.0.0/16", NatGatewayId="{nat}")
c.create_tags(Resources=["{igw}"], Tags=[{{"Key": "team", "Value": "net"}}])
c.delete_tags(Resources=["{nat}"], Tags=[{{"Key": "Name"}}])
c.create_tags(Resources=["{eip}"], Tags=[{{"Key": "Name", "Value": "spare"}}])
c.modify_volume(VolumeId="{vol}", Size=40)
c.create_network_acl_entry(NetworkAclId="{acl}", RuleNumber=200, Protocol="6", RuleAction="allow", Egress=False, CidrBlock="0.0.0.0/0", PortRange={{"From": 22, "To": 22}})
c.create_launch_template_version(LaunchTemplateId="{lt}", LaunchTemplateData={{"ImageId": "ami-12c6146b", "InstanceType": "t3.large", "MetadataOptions": {{"HttpTokens": "required"}}}})
c.modify_launch_template(LaunchTemplateId="{lt}", DefaultVersion="2")
c.delete_tags(Resources=["{key}"], Tags=[{{"Key": "Name"}}])
c.delete_flow_logs(FlowLogIds=["{fl}"])
out["fl"] = c.create_flow_logs(ResourceIds=["{vpc}"], ResourceType="VPC", TrafficType="ALL", LogGroupName="flows", DeliverLogsPermissionArn="arn:aws:iam::123456789012:role/flows", TagSpecifications=tag("vpc-flow-log", Name="shop"))["FlowLogIds"][0]
c.stop_instances(InstanceIds=["{inst}"])
c.modify_instance_attribute(InstanceId="{inst}", InstanceType={{"Value": "t3.large"}})
c.enable_ebs_encryption_by_default()
c.modify_vpc_endpoint(VpcEndpointId="{ep}", PolicyDocument='{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}}]}}')
"#,
        vpc = id("vpc"),
        subnet = id("subnet"),
        sg = id("sg"),
        rt = id("rt"),
        nat = id("nat"),
        igw = id("igw"),
        eip = id("eip"),
        vol = id("vol"),
        acl = id("acl"),
        lt = id("lt"),
        key = id("key"),
        fl = id("fl"),
        inst = id("inst"),
        ep = id("ep"),
    ));
    let new_flow_log = moto
        .python("out['fl'] = ec2().describe_flow_logs()['FlowLogs'][0]['FlowLogId']")["fl"]
        .as_str()
        .unwrap()
        .to_string();
    let (report, _) = scan(&moto, repo.path());
    assert_eq!(report["summary"]["errors"], 0, "{:#}", report["problems"]);
    let d = drift(&report, "AWS::EC2::VPC", &id("vpc"), "/Tags/env");
    assert_eq!(
        (&d["desired"], &d["live"]),
        (&json!("prod"), &Value::Null),
        "a tag removed"
    );
    let d = drift(
        &report,
        "AWS::EC2::Subnet",
        &id("subnet"),
        "/MapPublicIpOnLaunch",
    );
    assert_eq!(d["live"], true);
    let d = drift(
        &report,
        "AWS::EC2::SecurityGroup",
        &id("sg"),
        "/IpPermissions",
    );
    assert_eq!(
        (&d["desired"], &d["live"]["FromPort"]),
        (&Value::Null, &json!(22)),
        "a rule added by hand: {d:#}"
    );
    assert_eq!(
        resource(&report, "AWS::EC2::SecurityGroup", &id("sg"))["drifts"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "only the added rule"
    );
    let d = drift(&report, "AWS::EC2::RouteTable", &id("rt"), "/Routes");
    assert_eq!(d["live"]["DestinationCidrBlock"], "10.99.0.0/16");
    let d = drift(
        &report,
        "AWS::EC2::InternetGateway",
        &id("igw"),
        "/Tags/team",
    );
    assert_eq!(
        (&d["desired"], &d["live"]),
        (&Value::Null, &json!("net")),
        "an extra tag where tags are exhaustive"
    );
    let d = drift(&report, "AWS::EC2::NatGateway", &id("nat"), "/Tags/Name");
    assert_eq!(d["live"], Value::Null);
    let d = drift(&report, "AWS::EC2::EIP", &id("eip"), "/Tags/Name");
    assert_eq!(
        (&d["desired"], &d["live"]),
        (&json!("nat"), &json!("spare"))
    );
    let d = drift(&report, "AWS::EC2::Volume", &id("vol"), "/Size");
    assert_eq!((&d["desired"], &d["live"]), (&json!(20), &json!(40)));
    let d = drift(&report, "AWS::EC2::NetworkAcl", &id("acl"), "/Entries");
    assert_eq!(d["live"]["RuleNumber"], 200);
    let d = drift(
        &report,
        "AWS::EC2::LaunchTemplate",
        &id("lt"),
        "/LaunchTemplateData/InstanceType",
    );
    assert_eq!(
        (&d["desired"], &d["live"]),
        (&json!("t3.small"), &json!("t3.large")),
        "the default version is what is compared"
    );
    let d = drift(&report, "AWS::EC2::KeyPair", &id("key"), "/Tags/Name");
    assert_eq!(d["desired"], "deploy");
    let d = drift(&report, "AWS::EC2::FlowLog", &new_flow_log, "/TrafficType");
    assert_eq!(
        (&d["desired"], &d["live"]),
        (&json!("REJECT"), &json!("ALL"))
    );
    let d = drift(&report, "AWS::EC2::Instance", &id("inst"), "/InstanceType");
    assert_eq!(
        (&d["desired"], &d["live"]),
        (&json!("t3.micro"), &json!("t3.large")),
        "an instance type changed"
    );
    let d = drift(
        &report,
        "AWS::EC2::EBSEncryptionByDefault",
        "eu-west-1",
        "/EbsEncryptionByDefault",
    );
    assert_eq!((&d["desired"], &d["live"]), (&json!(false), &json!(true)));
    let d = drift(
        &report,
        "AWS::EC2::VPCEndpoint",
        &id("ep"),
        "/PolicyDocument/Version",
    );
    assert_eq!(
        (&d["desired"], &d["live"]),
        (&json!("2008-10-17"), &json!("2012-10-17")),
        "a policy rewritten by hand, compared as JSON"
    );
    assert_eq!(statuses(&report, "drifted").len(), 15);
    assert_eq!(report["summary"]["drifted"], 15);
    let stopped = &resource(&report, "AWS::EC2::Instance", &id("inst"))["health"];
    assert_eq!(
        (&stopped["status"], &stopped["reason"]),
        (
            &json!("suspended"),
            &json!("stopped (Client.UserInitiatedShutdown: User initiated shutdown)")
        ),
        "an instance stopped by hand is suspended, with AWS's reason"
    );
}

#[test]
fn unmanaged_resources_and_coverage_leave_aws_defaults_out() {
    let moto = Moto::start();
    let ids = moto.python(
        r#"
c = ec2()
vpc = c.create_vpc(CidrBlock="10.20.0.0/16", TagSpecifications=tag("vpc", Name="app"))["Vpc"]["VpcId"]
subnet = c.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24", TagSpecifications=tag("subnet", Name="app-a"))["Subnet"]["SubnetId"]
stray = c.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=subnet, TagSpecifications=tag("instance", Name="stray"))["Instances"][0]
out.update(vpc=vpc, subnet=subnet, stray=stray["InstanceId"], root=stray["BlockDeviceMappings"][0]["Ebs"]["VolumeId"])
default = c.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
out["default_vpc"] = default[0]["VpcId"]
"#,
    );
    let id = |k: &str| ids[k].as_str().unwrap().to_string();
    let declarations = [
        declare(
            "app",
            "AWS::EC2::VPC",
            "{tags: {Name: app}}",
            "CidrBlock: 10.20.0.0/16",
        ),
        declare(
            "app-a",
            "AWS::EC2::Subnet",
            "{tags: {Name: app-a}}",
            "CidrBlock: 10.20.1.0/24",
        ),
        declare(
            "gone",
            "AWS::EC2::SecurityGroup",
            "{tags: {Name: gone}}",
            "GroupName: gone",
        ),
    ]
    .concat();
    // Only the types this test is about: the account's other types are someone else's.
    let repo = repo_with(
        &moto,
        &[("aws/app.yaml", &declarations)],
        "      types: [AWS::EC2::Instance, AWS::EC2::VPC, AWS::EC2::Subnet, AWS::EC2::SecurityGroup, AWS::EC2::RouteTable, AWS::EC2::NetworkAcl, AWS::EC2::InternetGateway, AWS::EC2::Volume]\n",
    );
    let (report, calls) = scan(&moto, repo.path());
    assert_eq!(report["summary"]["errors"], 0, "{:#}", report["problems"]);
    assert!(
        !calls.iter().any(|c| c.action == "DescribeKeyPairs"),
        "types not configured are not read"
    );
    assert_eq!(
        statuses(&report, "unmanaged"),
        [
            ("AWS::EC2::Instance".to_string(), id("stray")),
            ("AWS::EC2::Volume".to_string(), id("root")),
        ]
        .into_iter()
        .collect(),
        "the default VPC, its subnets, internet gateway, the default security groups, main route \
         tables and default network ACLs are AWS's, not unmanaged: {:#}",
        report["resources"]
    );
    let missing = resource(&report, "AWS::EC2::SecurityGroup", "gone");
    assert_eq!(missing["status"], "missing");
    assert_eq!(missing["reason"], "no resource has the tags Name=gone");
    assert_eq!(
        resource(&report, "AWS::EC2::VPC", &id("vpc"))["status"],
        "in_sync"
    );
    assert!(
        !report["resources"].to_string().contains(&id("default_vpc")),
        "the default VPC is not reported"
    );
    let all = coverage(&report, "prod", "all");
    assert_eq!(
        (&all["managed"], &all["unmanaged"], &all["missing"]),
        (&json!(2), &json!(2), &json!(1))
    );
    assert_eq!(all["percent"], 40.0);
    let instances = coverage(&report, "prod", "AWS::EC2::Instance");
    assert_eq!(
        (&instances["unmanaged"], &instances["percent"]),
        (&json!(1), &json!(0.0))
    );
    assert_eq!(coverage(&report, "prod", "AWS::EC2::VPC")["percent"], 100.0);
    assert_eq!(report["summary"]["unmanaged"], 2);
    assert_eq!(report["summary"]["missing"], 1);

    // The text report says the same.
    let (text, _) = run(&moto, repo.path(), &["scan", "--format", "text"]);
    assert_eq!(text.code, 1, "{}", text.stderr);
    assert!(text.stdout.contains(&id("stray")), "{}", text.stdout);
    assert!(
        text.stdout.to_lowercase().contains("coverage"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("40"), "{}", text.stdout);
}

#[test]
fn describe_instances_is_read_page_by_page() {
    let moto = Moto::start();
    // Twelve reservations: with five per page, three pages.
    moto.python(
        r#"
c = ec2()
out["ids"] = [c.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"] for _ in range(12)]
"#,
    );
    let repo = repo_with(
        &moto,
        &[],
        "      page_size: 5\n      types: [AWS::EC2::Instance]\n",
    );
    let (report, calls) = scan(&moto, repo.path());
    assert_eq!(report["summary"]["errors"], 0, "{:#}", report["problems"]);
    let pages: Vec<&Call> = calls
        .iter()
        .filter(|c| c.action == "DescribeInstances")
        .collect();
    assert_eq!(pages.len(), 3, "{pages:#?}");
    assert!(pages.iter().all(|c| c.param("MaxResults") == Some("5")));
    assert_eq!(pages[0].param("NextToken"), None);
    assert!(pages[1].param("NextToken").is_some() && pages[2].param("NextToken").is_some());
    assert_eq!(statuses(&report, "unmanaged").len(), 12);
}

#[test]
fn two_regions_in_one_target() {
    let moto = Moto::start();
    let ids = moto.python(
        r#"
for region in ["eu-west-1", "us-east-1"]:
    c = ec2(region)
    out[region] = c.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t3.micro", TagSpecifications=tag("instance", Name="edge"))["Instances"][0]["InstanceId"]
"#,
    );
    let eu = declare(
        "edge-eu",
        "AWS::EC2::Instance",
        "{tags: {Name: edge}}",
        "InstanceType: t3.micro",
    );
    let us = declare(
        "edge-us",
        "AWS::EC2::Instance",
        "{tags: {Name: edge}}",
        "InstanceType: t3.nano",
    )
    .replace("  match:", "  region: us-east-1\n  match:");
    let repo = repo_with(&moto, &[("aws/edge.yaml", &format!("{eu}{us}"))], "");
    write_config(
        &repo,
        &format!(
            "sources:\n  - name: infra\n    repo: .\n    paths: [\"aws/**\"]\n    target: prod\n    region: eu-west-1\ntargets:\n  - name: prod\n    aws:\n      regions: [eu-west-1, us-east-1]\n      endpoint_url: {}\n      types: [AWS::EC2::Instance]\n",
            moto.endpoint()
        ),
    );
    let (report, calls) = scan(&moto, repo.path());
    assert_eq!(report["summary"]["errors"], 0, "{:#}", report["problems"]);
    let eu = resource(
        &report,
        "AWS::EC2::Instance",
        ids["eu-west-1"].as_str().unwrap(),
    );
    assert_eq!(
        (&eu["namespace"], &eu["status"]),
        (&json!("eu-west-1"), &json!("in_sync"))
    );
    let us = resource(
        &report,
        "AWS::EC2::Instance",
        ids["us-east-1"].as_str().unwrap(),
    );
    assert_eq!(us["namespace"], "us-east-1");
    assert_eq!(us["drifts"][0]["live"], "t3.micro");
    let regions: BTreeSet<&str> = calls.iter().map(|c| c.region.as_str()).collect();
    assert_eq!(regions, ["eu-west-1", "us-east-1"].into_iter().collect());
}

#[test]
fn throttled_calls_are_retried_and_a_type_that_stays_throttled_is_unreadable() {
    let moto = Moto::start();
    let ids = moto.python(
        r#"
c = ec2()
out["inst"] = c.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, TagSpecifications=tag("instance", Name="web"))["Instances"][0]["InstanceId"]
out["vol"] = c.create_volume(AvailabilityZone="eu-west-1a", Size=8, TagSpecifications=tag("volume", Name="data"))["VolumeId"]
"#,
    );
    let declarations = [
        declare("web", "AWS::EC2::Instance", "{tags: {Name: web}}", ""),
        declare(
            "data",
            "AWS::EC2::Volume",
            "{tags: {Name: data}}",
            "Size: 8",
        ),
    ]
    .concat();
    let repo = repo_with(
        &moto,
        &[("aws/app.yaml", &declarations)],
        "      types: [AWS::EC2::Instance, AWS::EC2::Volume]\n",
    );
    // Adaptive retries: the throttled call is tried again (after the client slows down) and the
    // scan completes with everything read.
    moto.front.throttle("DescribeInstances", 1);
    let (report, calls) = scan(&moto, repo.path());
    assert_eq!(moto.front.throttled(), 1);
    assert_eq!(report["summary"]["errors"], 0, "{:#}", report["problems"]);
    assert_eq!(
        resource(&report, "AWS::EC2::Instance", ids["inst"].as_str().unwrap())["status"],
        "in_sync",
        "the second DescribeInstances went through"
    );
    assert_eq!(
        resource(&report, "AWS::EC2::Volume", ids["vol"].as_str().unwrap())["status"],
        "in_sync"
    );
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.action == "DescribeInstances")
            .count(),
        1,
        "moto saw the retry, not the throttled try"
    );

    // A type that stays throttled past the attempts is unreadable; the rest is judged.
    let config = std::fs::read_to_string(repo.path().join("gitdrift.yaml")).unwrap();
    write_config(&repo, &config.replace("max_attempts: 4", "max_attempts: 1"));
    moto.front.throttle("DescribeVolumes", usize::MAX);
    let (report, _) = scan(&moto, repo.path());
    assert_eq!(moto.front.throttled(), 2, "one attempt, no retry");
    assert_eq!(
        resource(&report, "AWS::EC2::Instance", ids["inst"].as_str().unwrap())["status"],
        "in_sync"
    );
    let unreadable = &report["unreadable"][0];
    assert_eq!(
        (
            &unreadable["kind"],
            &unreadable["reason"],
            &unreadable["declared"]
        ),
        (&json!("AWS::EC2::Volume"), &json!("throttled"), &json!(1)),
        "{report:#}"
    );
    assert_eq!(
        unreadable["message"],
        "eu-west-1: RequestLimitExceeded: Request limit exceeded."
    );
    let problem = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| {
            p["message"]
                .as_str()
                .unwrap()
                .contains("AWS::EC2::Volume is unreadable")
        })
        .unwrap_or_else(|| panic!("{:#}", report["problems"]));
    assert_eq!(problem["code"], "aws.throttled");
    assert!(
        statuses(&report, "missing").is_empty() && statuses(&report, "unmanaged").is_empty(),
        "unreadable is neither missing nor unmanaged"
    );
}

#[test]
fn a_role_is_assumed_per_target() {
    let moto = Moto::start();
    moto.python("ec2().run_instances(ImageId='ami-12c6146b', MinCount=1, MaxCount=1)");
    let repo = repo_with(
        &moto,
        &[],
        "      role_arn: arn:aws:iam::210987654321:role/gitdrift-read\n      external_id: drift-1\n      types: [AWS::EC2::Instance]\n",
    );
    let (report, calls) = scan(&moto, repo.path());
    assert_eq!(report["summary"]["errors"], 0, "{:#}", report["problems"]);
    let assume = calls
        .iter()
        .find(|c| c.action == "AssumeRole")
        .unwrap_or_else(|| panic!("no AssumeRole in {calls:#?}"));
    assert_eq!(
        assume.param("RoleArn"),
        Some("arn:aws:iam::210987654321:role/gitdrift-read")
    );
    assert_eq!(assume.param("ExternalId"), Some("drift-1"));
    let describe = calls
        .iter()
        .find(|c| c.action == "DescribeInstances")
        .unwrap();
    assert_ne!(
        describe.access_key, "testing",
        "EC2 is called with the role's credentials"
    );
    assert!(
        report["scan"]["targets"][0]["location"]
            .as_str()
            .unwrap()
            .contains("gitdrift-read")
    );
}

/// A Terraform state (format 4) for the resources `ids` names, as `terraform show -json`'s
/// underlying state file records them: the security group's rules as separate
/// `aws_security_group_rule` resources, in an order of their own.
fn tfstate(ids: &Value) -> String {
    let id = |k: &str| ids[k].as_str().unwrap().to_string();
    let resource = |kind: &str, name: &str, attributes: Value| {
        json!({"mode": "managed", "type": kind, "name": name,
               "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
               "instances": [{"schema_version": 1, "attributes": attributes}]})
    };
    let state = json!({
        "version": 4, "terraform_version": "1.9.0", "serial": 3, "lineage": "7d1c",
        "outputs": {},
        "resources": [
            resource("aws_vpc", "shop", json!({"id": id("vpc"), "cidr_block": "10.10.0.0/16",
                "instance_tenancy": "default", "tags": {"Name": "shop", "env": "prod"},
                "arn": format!("arn:aws:ec2:eu-west-1:123456789012:vpc/{}", id("vpc"))})),
            resource("aws_subnet", "a", json!({"id": id("subnet"), "vpc_id": id("vpc"),
                "cidr_block": "10.10.1.0/24", "availability_zone": "eu-west-1a",
                "map_public_ip_on_launch": false, "tags": {"Name": "shop-a"}})),
            resource("aws_security_group", "web", json!({"id": id("sg"), "name": "web",
                "description": "web servers", "vpc_id": id("vpc"), "ingress": [], "egress": [],
                "tags": {"Name": "web"},
                "arn": format!("arn:aws:ec2:eu-west-1:123456789012:security-group/{}", id("sg"))})),
            resource("aws_security_group_rule", "http", json!({"security_group_id": id("sg"),
                "type": "ingress", "protocol": "tcp", "from_port": 80, "to_port": 80,
                "cidr_blocks": ["0.0.0.0/0"]})),
            resource("aws_security_group_rule", "https_private", json!({"security_group_id": id("sg"),
                "type": "ingress", "protocol": "6", "from_port": 443, "to_port": 443,
                "cidr_blocks": ["192.168.0.0/16"]})),
            resource("aws_vpc_security_group_ingress_rule", "https_office", json!({"security_group_id": id("sg"),
                "ip_protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_ipv4": "10.0.0.0/8"})),
            resource("aws_security_group_rule", "out", json!({"security_group_id": id("sg"),
                "type": "egress", "protocol": "-1", "from_port": 0, "to_port": 0,
                "cidr_blocks": ["0.0.0.0/0"]})),
            resource("aws_instance", "web", json!({"id": id("inst"), "instance_type": "t3.micro",
                "ami": "ami-12c6146b", "subnet_id": id("subnet"), "key_name": "deploy",
                "vpc_security_group_ids": [id("sg")], "tags": {"Name": "web-1", "team": "shop"},
                "availability_zone": "eu-west-1a"})),
            resource("aws_ebs_volume", "data", json!({"id": id("vol"), "size": 20, "type": "gp3",
                "encrypted": true, "availability_zone": "eu-west-1a", "tags": {},
                "tags_all": {"Name": "data"}})),
            resource("aws_vpc_endpoint", "ssm", json!({"id": id("ep"), "vpc_id": id("vpc"),
                "service_name": "com.amazonaws.eu-west-1.ssm", "vpc_endpoint_type": "Interface",
                "subnet_ids": [id("subnet")], "security_group_ids": [id("sg")], "route_table_ids": [],
                "private_dns_enabled": true, "tags": {"Name": "ssm"},
                "policy": "{\"Statement\":[{\"Action\":\"*\",\"Effect\":\"Allow\",\"Principal\":\"*\",\"Resource\":\"*\"}],\"Version\":\"2008-10-17\"}",
                "arn": format!("arn:aws:ec2:eu-west-1:123456789012:vpc-endpoint/{}", id("ep"))})),
        ]
    });
    serde_json::to_string_pretty(&state).unwrap()
}

#[test]
fn terraform_state_in_git_and_on_disk_is_declared_state() {
    let moto = Moto::start();
    let ids = moto.python(SEED_SHOP);
    let id = |k: &str| ids[k].as_str().unwrap().to_string();
    let repo = repo_with(
        &moto,
        &[("aws/network/terraform.tfstate", &tfstate(&ids))],
        "",
    );
    // A second state outside git: the key pair's.
    let key_state = json!({"version": 4, "serial": 1, "lineage": "k", "outputs": {}, "resources": [
        {"mode": "managed", "type": "aws_key_pair", "name": "deploy",
         "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
         "instances": [{"schema_version": 1, "attributes": {"id": "deploy", "key_name": "deploy",
            "key_pair_id": id("key"), "tags": {"Name": "deploy"}}}]},
        {"mode": "data", "type": "aws_ami", "name": "ignored", "instances": [{"attributes": {"id": "ami-1"}}]}]});
    let state_file = repo.path().join("keys.tfstate");
    std::fs::write(&state_file, key_state.to_string()).unwrap();
    write_config(
        &repo,
        &format!(
            "sources:\n  - name: infra\n    repo: .\n    paths: [\"aws/**\"]\n    target: prod\n    region: eu-west-1\n  - name: keys\n    terraform_state: {}\n    target: prod\n    region: eu-west-1\ntargets:\n{}",
            state_file.display(),
            aws_target(
                "prod",
                &moto,
                "      types: [AWS::EC2::VPC, AWS::EC2::Subnet, AWS::EC2::SecurityGroup, AWS::EC2::Instance, AWS::EC2::Volume, AWS::EC2::KeyPair, AWS::EC2::VPCEndpoint]\n"
            )
        ),
    );
    let (report, _) = scan(&moto, repo.path());
    assert_eq!(report["summary"]["errors"], 0, "{:#}", report["problems"]);
    for (kind, key) in [
        ("AWS::EC2::VPC", "vpc"),
        ("AWS::EC2::Subnet", "subnet"),
        ("AWS::EC2::SecurityGroup", "sg"),
        ("AWS::EC2::Instance", "inst"),
        ("AWS::EC2::Volume", "vol"),
        ("AWS::EC2::KeyPair", "key"),
        ("AWS::EC2::VPCEndpoint", "ep"),
    ] {
        let r = resource(&report, kind, &id(key));
        assert_eq!(
            r["status"], "in_sync",
            "{kind}: rules spread over three resources, in their own order, are the same set: {r:#}"
        );
    }
    let sg = resource(&report, "AWS::EC2::SecurityGroup", &id("sg"));
    assert_eq!(sg["source"]["file"], "aws/network/terraform.tfstate");
    let key = resource(&report, "AWS::EC2::KeyPair", &id("key"));
    assert_eq!(key["source"]["name"], "keys");

    moto.python(&format!(
        r#"
c = ec2()
c.authorize_security_group_ingress(GroupId="{sg}", IpPermissions=[{{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{{"CidrIp": "0.0.0.0/0"}}]}}])
c.delete_tags(Resources=["{inst}"], Tags=[{{"Key": "team"}}])
c.create_tags(Resources=["{vol}"], Tags=[{{"Key": "backup", "Value": "daily"}}])
"#,
        sg = id("sg"),
        inst = id("inst"),
        vol = id("vol")
    ));
    let (report, _) = scan(&moto, repo.path());
    let d = drift(
        &report,
        "AWS::EC2::SecurityGroup",
        &id("sg"),
        "/IpPermissions",
    );
    assert_eq!(d["live"]["FromPort"], 5432);
    let d = drift(&report, "AWS::EC2::Instance", &id("inst"), "/Tags/team");
    assert_eq!((&d["desired"], &d["live"]), (&json!("shop"), &Value::Null));
    // Terraform owns every tag (`tags_all`): one added by hand is drift.
    let d = drift(&report, "AWS::EC2::Volume", &id("vol"), "/Tags/backup");
    assert_eq!((&d["desired"], &d["live"]), (&Value::Null, &json!("daily")));
}

/// Unmanaged resources of a moto estate become declarations in git (a re-scan finds them
/// managed and in sync), a missing one's declaration is removed, and a source that reads
/// Terraform state gets import blocks `terraform fmt -check` accepts.
#[test]
fn unmanaged_aws_resources_are_codified_as_declarations_or_terraform_imports() {
    let moto = Moto::start();
    let ids = moto.python(SEED_SHOP);
    let id = |k: &str| ids[k].as_str().unwrap().to_string();
    let types = "      types: [AWS::EC2::VPC, AWS::EC2::Subnet, AWS::EC2::SecurityGroup, AWS::EC2::Instance, AWS::EC2::Volume, AWS::EC2::InternetGateway]\n";
    // Git declares the VPC and a security group that is gone; the rest is unmanaged.
    let declarations = [
        declare(
            "shop",
            "AWS::EC2::VPC",
            "{tags: {Name: shop}}",
            "CidrBlock: 10.10.0.0/16",
        ),
        declare(
            "gone",
            "AWS::EC2::SecurityGroup",
            "{tags: {Name: gone}}",
            "GroupName: gone",
        ),
    ]
    .concat();
    let repo = repo_with(&moto, &[("aws/network.yaml", &declarations)], types);
    let config = std::fs::read_to_string(repo.path().join("gitdrift.yaml")).unwrap();
    let adopt = "remediation:\n  adopt:\n    - target: prod\n  import_unmanaged: true\n  delete_missing: true\n";
    write_config(&repo, &format!("{config}{adopt}"));
    let (before, _) = scan(&moto, repo.path());
    let unmanaged = statuses(&before, "unmanaged");
    for key in ["subnet", "sg", "inst", "vol", "igw"] {
        assert!(
            unmanaged.iter().any(|(_, name)| *name == id(key)),
            "{key} unmanaged: {unmanaged:?}"
        );
    }
    let (remediated, _) = run(
        &moto,
        repo.path(),
        &["remediate", "--patch-out", "fix.patch"],
    );
    assert_eq!(remediated.code, 0, "{}", remediated.all());
    support::git(repo.path(), &["apply", "fix.patch"]);
    let imported = repo.path().join("aws/gitdrift-imported");
    let instance = std::fs::read_to_string(
        imported.join(format!("ec2-instance_eu-west-1_{}.yaml", id("inst"))),
    )
    .unwrap();
    for expected in [
        "kind: AWSResource\n",
        "  type: AWS::EC2::Instance\n",
        &format!("    id: {}\n", id("inst")),
        "    InstanceType: t3.micro\n",
        "      Name: web-1\n",
        // A setting named `State` is kept: only the resource's own state is AWS's.
        "    Monitoring:\n      State: disabled\n",
    ] {
        assert!(instance.contains(expected), "{expected:?} in\n{instance}");
    }
    for volatile in [
        "LaunchTime",
        "StatusChecks",
        "\n    State:",
        "PublicIpAddress",
        &format!("InstanceId: {}", id("inst")),
    ] {
        assert!(
            !instance.contains(volatile),
            "{volatile} imported:\n{instance}"
        );
    }
    let network = std::fs::read_to_string(repo.path().join("aws/network.yaml")).unwrap();
    assert!(
        !network.contains("gone"),
        "the missing group's declaration is removed:\n{network}"
    );
    support::git(repo.path(), &["add", "."]);
    support::git(repo.path(), &["commit", "-qm", "import"]);
    let (after, _) = scan(&moto, repo.path());
    assert_eq!(
        statuses(&after, "unmanaged"),
        BTreeSet::new(),
        "{:#}",
        after["resources"]
    );
    assert_eq!(statuses(&after, "missing"), BTreeSet::new());
    assert_eq!(
        statuses(&after, "drifted"),
        BTreeSet::new(),
        "{:#}",
        after["resources"]
    );
    for key in ["vpc", "subnet", "sg", "inst", "vol", "igw"] {
        assert!(
            statuses(&after, "in_sync")
                .iter()
                .any(|(_, name)| *name == id(key)),
            "{key} in sync: {:#}",
            after["resources"]
        );
    }

    // A source that reads Terraform state: import blocks beside the state.
    let state: Value = serde_json::from_str(&tfstate(&ids)).unwrap();
    let mut state = state;
    state["resources"]
        .as_array_mut()
        .unwrap()
        .retain(|r| r["type"] == "aws_vpc" || r["type"] == "aws_subnet");
    let terraform_repo = repo_with(
        &moto,
        &[(
            "infra/terraform.tfstate",
            &serde_json::to_string_pretty(&state).unwrap(),
        )],
        types,
    );
    let config = std::fs::read_to_string(terraform_repo.path().join("gitdrift.yaml"))
        .unwrap()
        .replace("paths: [\"aws/**\"]", "paths: [\"infra/**\"]");
    write_config(&terraform_repo, &format!("{config}{adopt}"));
    let (remediated, _) = run(
        &moto,
        terraform_repo.path(),
        &["remediate", "--patch-out", "fix.patch"],
    );
    assert_eq!(remediated.code, 0, "{}", remediated.all());
    support::git(terraform_repo.path(), &["apply", "fix.patch"]);
    let file = terraform_repo.path().join("infra/gitdrift-imported.tf");
    let hcl = std::fs::read_to_string(&file).unwrap();
    for expected in [
        format!(
            "import {{\n  to = aws_instance.{}\n  id = \"{}\"\n}}\n",
            id("inst").replace('-', "_"),
            id("inst")
        ),
        format!(
            "resource \"aws_instance\" \"{}\" {{\n",
            id("inst").replace('-', "_")
        ),
        "  instance_type          = \"t3.micro\"\n".to_string(),
        format!("  vpc_security_group_ids = [\"{}\"]\n", id("sg")),
        format!(
            "resource \"aws_security_group\" \"{}\" {{\n",
            id("sg").replace('-', "_")
        ),
        "    Name = \"web\"\n".to_string(),
        format!(
            "resource \"aws_ebs_volume\" \"{}\"",
            id("vol").replace('-', "_")
        ),
    ] {
        assert!(hcl.contains(&expected), "{expected:?} in\n{hcl}");
    }
    let terraform = std::process::Command::new("terraform")
        .args(["fmt", "-check", "-diff"])
        .arg(&file)
        .output()
        .expect("terraform on PATH (these machines have it in /usr/local/bin)");
    assert!(
        terraform.status.success(),
        "terraform fmt -check:\n{}{}\n{hcl}",
        String::from_utf8_lossy(&terraform.stdout),
        String::from_utf8_lossy(&terraform.stderr)
    );
}

#[test]
fn an_aws_snapshot_reads_back_as_the_live_state_it_was() {
    let moto = Moto::start();
    let ids = moto.python(SEED_SHOP);
    let repo = repo_with(&moto, &[("aws/shop.yaml", &shop_declarations(&ids))], "");
    moto.python(&format!(
        "ec2().modify_volume(VolumeId='{}', Size=30)",
        ids["vol"].as_str().unwrap()
    ));
    let (live, _) = scan(&moto, repo.path());
    let snap = repo.path().join("snap");
    let (written, _) = run(
        &moto,
        repo.path(),
        &["snapshot", "--target", "prod", "--out", "snap"],
    );
    assert_eq!(written.code, 0, "{}\n{}", written.stdout, written.stderr);
    for file in [
        "instances.json",
        "security-groups.json",
        "vpcs.json",
        "flow-logs.json",
        "ebs-encryption-by-default.json",
    ] {
        assert!(
            snap.join("eu-west-1").join(file).is_file(),
            "{file} written"
        );
    }
    let sgs: Value = serde_json::from_str(
        &std::fs::read_to_string(snap.join("eu-west-1/security-groups.json")).unwrap(),
    )
    .unwrap();
    assert!(
        sgs["SecurityGroups"].as_array().unwrap().len() >= 2,
        "`aws ec2 describe-security-groups` shape: {sgs:#}"
    );
    // The same declarations against the snapshot: the same judgement, and no AWS call at all.
    let config = std::fs::read_to_string(repo.path().join("gitdrift.yaml")).unwrap();
    let offline = config.split("targets:").next().unwrap().to_string()
        + "targets:\n  - name: prod\n    snapshot: snap\n";
    write_config(&repo, &offline);
    let run = gitdrift(repo.path(), &["scan", "--format", "json"], &[]);
    let report = run.json();
    assert_eq!(report["summary"]["errors"], 0, "{:#}", report["problems"]);
    let strip = |r: &Value| {
        let mut out: Vec<Value> = r["resources"].as_array().unwrap().clone();
        out.iter_mut().for_each(|r| {
            r.as_object_mut().unwrap().remove("last_changed_at");
        });
        out
    };
    assert_eq!(strip(&report), strip(&live));
    assert_eq!(report["coverage"], live["coverage"]);
    let d = drift(
        &report,
        "AWS::EC2::Volume",
        ids["vol"].as_str().unwrap(),
        "/Size",
    );
    assert_eq!(d["live"], 30);
}

#[test]
fn declarations_for_regions_or_types_a_target_does_not_read_are_not_missing() {
    let moto = Moto::start();
    let declarations = [
        declare("far", "AWS::EC2::VPC", "{tags: {Name: far}}", "")
            .replace("  match:", "  region: ap-south-1\n  match:"),
        declare("vol", "AWS::EC2::Volume", "{tags: {Name: v}}", ""),
        "---\napiVersion: gitdrift.dev/v1\nkind: AWSResource\nmetadata: {name: broken}\nspec:\n  type: AWS::S3::Bucket\n  match: {id: b}\n".to_string(),
    ]
    .concat();
    let repo = repo_with(
        &moto,
        &[("aws/other.yaml", &declarations)],
        "      types: [AWS::EC2::VPC]\n",
    );
    let (report, _) = scan(&moto, repo.path());
    assert!(statuses(&report, "missing").is_empty(), "{report:#}");
    let problems = report["problems"].to_string();
    assert!(
        problems.contains("does not read AWS::EC2::VPC in ap-south-1"),
        "{problems}"
    );
    assert!(
        problems.contains("does not read AWS::EC2::Volume in eu-west-1"),
        "{problems}"
    );
    let bad = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["message"].as_str().unwrap().contains("not supported"))
        .unwrap_or_else(|| panic!("{problems}"));
    assert_eq!(bad["file"], "aws/other.yaml");
    assert_eq!(bad["line"], 17, "the document's first line");
}

/// The lint half of the read-only promise stays complete as the SDK grows: every operation of
/// the EC2 client that is not a Describe/Get/List read is disallowed in clippy.toml, and so are
/// the reads that return secrets.
#[test]
fn clippy_disallows_every_ec2_operation_that_is_not_a_read() {
    // The SDK's sources, where cargo unpacked the version Cargo.lock pins.
    let lock = std::fs::read_to_string(support::project_root().join("Cargo.lock")).unwrap();
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"aws-sdk-ec2\""))
        .and_then(|p| p.split("version = \"").nth(1))
        .and_then(|v| v.split('"').next())
        .expect("aws-sdk-ec2 in Cargo.lock")
        .to_string();
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dirs::home_dir().unwrap().join(".cargo"));
    let manifest = std::fs::read_dir(cargo_home.join("registry/src"))
        .expect("cargo's registry sources")
        .map(|e| {
            e.unwrap()
                .path()
                .join(format!("aws-sdk-ec2-{version}/Cargo.toml"))
        })
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!(
                "aws-sdk-ec2 {version} is not unpacked under {}",
                cargo_home.display()
            )
        });
    let client = Path::new(&manifest).parent().unwrap().join("src/client");
    let mut operations = BTreeSet::new();
    for entry in std::fs::read_dir(&client).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for part in text.split("pub fn ").skip(1) {
            let name: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let arguments: String = part[name.len()..]
                .split(')')
                .next()
                .unwrap_or_default()
                .chars()
                .filter(|c| !c.is_whitespace() && *c != ',')
                .collect();
            if arguments == "(&self" {
                operations.insert(name);
            }
        }
    }
    assert!(
        operations.len() > 600,
        "found {} operations",
        operations.len()
    );
    let clippy = std::fs::read_to_string(support::project_root().join("clippy.toml")).unwrap();
    let banned: BTreeSet<&str> = clippy
        .split("path = \"aws_sdk_ec2::Client::")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect();
    let secrets = [
        "get_password_data",
        "get_console_output",
        "get_console_screenshot",
        "get_launch_template_data",
    ];
    let unbanned: Vec<&String> = operations
        .iter()
        .filter(|op| {
            let read = ["describe_", "get_", "list_"]
                .iter()
                .any(|p| op.starts_with(p));
            (!read || secrets.contains(&op.as_str())) && !banned.contains(op.as_str())
        })
        .collect();
    assert!(
        unbanned.is_empty(),
        "clippy.toml does not disallow: {unbanned:?}"
    );
    for op in &banned {
        assert!(
            operations.contains(*op),
            "clippy.toml names {op}, which the SDK does not have"
        );
    }
}

/// The bundled demo's AWS half, offline: declarations against `aws ec2 describe-*` output.
#[test]
fn the_demo_aws_snapshot_judges_offline() {
    let repo = Repo::new();
    repo.copy_dir(&support::project_root().join("examples/demo/aws"), "aws");
    repo.commit("network");
    write_config(
        &repo,
        &format!(
            "sources:\n  - name: network\n    repo: .\n    paths: [\"aws/**\"]\n    target: demo-aws\n    region: eu-west-1\ntargets:\n  - name: demo-aws\n    snapshot: {}\n",
            support::project_root()
                .join("examples/demo/aws-live")
                .display()
        ),
    );
    let run = gitdrift(repo.path(), &["scan", "--format", "json"], &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert_eq!(
        report["summary"],
        json!({"resources": 7, "in_sync": 2, "drifted": 3, "missing": 1, "unmanaged": 1,
               "drifts": 3, "unreadable": 0, "errors": 0, "warnings": 0,
               "health": {"healthy": 6, "missing": 1}})
    );
    let sg = drift(
        &report,
        "AWS::EC2::SecurityGroup",
        "sg-4f7fd2c9d84f2eeb4",
        "/IpPermissions",
    );
    assert_eq!(sg["live"]["FromPort"], 22);
    let web = drift(
        &report,
        "AWS::EC2::Instance",
        "i-a0d3bf66f930e122c",
        "/MetadataOptions/HttpTokens",
    );
    assert_eq!(web["live"], "optional");
    assert_eq!(
        resource(&report, "AWS::EC2::Instance", "i-d33490c2483be0343")["status"],
        "unmanaged"
    );
    assert_eq!(
        resource(&report, "AWS::EC2::SecurityGroup", "admin-sg")["status"],
        "missing"
    );
    assert_eq!(coverage(&report, "demo-aws", "all")["managed"], 5);
    let text = gitdrift(repo.path(), &["scan"], &[]);
    assert!(
        text.stdout.contains(
            "demo-aws all                                 71.4%  5 managed, 1 unmanaged, 1 missing"
        ),
        "{}",
        text.stdout
    );
}

#[test]
fn regions_all_reads_every_enabled_region() {
    let moto = Moto::start();
    let id = moto.python(
        "out['id'] = ec2('ap-southeast-2').run_instances(ImageId='ami-12c6146b', MinCount=1, MaxCount=1)['Instances'][0]['InstanceId']",
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    let repo = repo_with(&moto, &[], "      types: [AWS::EC2::Instance]\n");
    let config = std::fs::read_to_string(repo.path().join("gitdrift.yaml")).unwrap();
    write_config(
        &repo,
        &config.replace("regions: [eu-west-1]", "regions: all"),
    );
    let (report, calls) = scan(&moto, repo.path());
    assert_eq!(report["summary"]["errors"], 0, "{:#}", report["problems"]);
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.action == "DescribeRegions")
            .count(),
        1
    );
    let regions: BTreeSet<&str> = calls
        .iter()
        .filter(|c| c.action == "DescribeInstances")
        .map(|c| c.region.as_str())
        .collect();
    assert!(
        regions.len() > 10 && regions.contains("ap-southeast-2") && regions.contains("eu-west-1"),
        "{regions:?}"
    );
    let found = resource(&report, "AWS::EC2::Instance", &id);
    assert_eq!(
        (&found["namespace"], &found["status"]),
        (&json!("ap-southeast-2"), &json!("unmanaged"))
    );
    assert!(
        report["scan"]["targets"][0]["location"]
            .as_str()
            .unwrap()
            .contains("all regions")
    );
}

#[test]
fn the_aws_ec2_rules_judge_what_runs_and_what_git_declares() {
    let moto = Moto::start();
    let ids = moto.python(
        r#"
c = ec2()
vpc = c.create_vpc(CidrBlock="10.30.0.0/16", TagSpecifications=tag("vpc", Name="audit"))["Vpc"]["VpcId"]
private = c.create_subnet(VpcId=vpc, CidrBlock="10.30.1.0/24", TagSpecifications=tag("subnet", Name="audit-a", Tier="private"))["Subnet"]["SubnetId"]
c.modify_subnet_attribute(SubnetId=private, MapPublicIpOnLaunch={"Value": True})
sg = c.create_security_group(GroupName="admin", Description="admin", VpcId=vpc)["GroupId"]
c.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
    {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
    {"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}])
inst = c.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=private, SecurityGroupIds=[sg], TagSpecifications=tag("instance", Name="audit-web"))["Instances"][0]
vol = c.create_volume(AvailabilityZone="eu-west-1a", Size=8, Encrypted=False)["VolumeId"]
acl = c.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
c.create_network_acl_entry(NetworkAclId=acl, RuleNumber=100, Protocol="6", RuleAction="allow", Egress=False, CidrBlock="0.0.0.0/0", PortRange={"From": 22, "To": 22})
lt = c.create_launch_template(LaunchTemplateName="plain", LaunchTemplateData={"ImageId": "ami-12c6146b"})["LaunchTemplate"]["LaunchTemplateId"]
logged = c.create_vpc(CidrBlock="10.31.0.0/16")["Vpc"]["VpcId"]
logs().create_log_group(logGroupName="flows")
c.create_flow_logs(ResourceIds=[logged], ResourceType="VPC", TrafficType="ALL", LogGroupName="flows", DeliverLogsPermissionArn="arn:aws:iam::123456789012:role/flows")
default_sg = c.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]["GroupId"]
out.update(vpc=vpc, subnet=private, sg=sg, inst=inst["InstanceId"], public_ip=inst.get("PublicIpAddress", ""), vol=vol, acl=acl, lt=lt, logged=logged, default_sg=default_sg)
"#,
    );
    let id = |k: &str| ids[k].as_str().unwrap().to_string();
    assert!(
        !id("public_ip").is_empty(),
        "moto gave the instance a public IP"
    );
    let declaration = declare(
        "audit-web",
        "AWS::EC2::Instance",
        "{tags: {Name: audit-web}}",
        "MetadataOptions: {HttpTokens: optional}",
    );
    let repo = repo_with(&moto, &[("aws/web.yaml", &declaration)], "");
    let (report, _) = scan(&moto, repo.path());
    assert_eq!(report["summary"]["errors"], 0, "{:#}", report["problems"]);
    let fired = |rule: &str, name: &str, side: &str| -> Value {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == rule && f["resource"]["name"] == name && f["side"] == side)
            .cloned()
            .unwrap_or_else(|| {
                panic!(
                    "{rule} did not fire on {name} ({side}): {:#}",
                    report["findings"]
                )
            })
    };
    let ssh = fired("aws-ec2-sg-admin-ports-ipv4", &id("sg"), "live");
    assert_eq!(
        ssh["message"],
        format!("security group {} allows port 22 from 0.0.0.0/0", id("sg"))
    );
    assert_eq!(ssh["controls"]["cis-aws-3.0"], json!(["5.2"]));
    assert_eq!(ssh["live_only"], true, "nothing in git declares the group");
    fired("aws-ec2-sg-admin-ports-ipv6", &id("sg"), "live");
    fired("aws-ec2-nacl-admin-ports", &id("acl"), "live");
    fired(
        "aws-ec2-default-sg-restricts-all",
        &id("default_sg"),
        "live",
    );
    fired("aws-ec2-volume-encrypted", &id("vol"), "live");
    fired("aws-ec2-ebs-encryption-by-default", "eu-west-1", "live");
    fired("aws-ec2-vpc-flow-logs", &id("vpc"), "live");
    fired("aws-ec2-launch-template-imdsv2", &id("lt"), "live");
    fired("aws-ec2-public-ip-in-private-subnet", &id("inst"), "live");
    let live = fired("aws-ec2-imdsv2-required", &id("inst"), "live");
    assert_eq!(live["live_only"], false, "git declares it optional too");
    let desired = fired("aws-ec2-imdsv2-required", &id("inst"), "desired");
    assert_eq!(desired["source"]["file"], "aws/web.yaml");
    assert_eq!(desired["source"]["line"], 2);
    assert!(
        !report["findings"]
            .to_string()
            .contains(&format!("VPC {} has no flow log", id("logged"))),
        "the VPC with a flow log passes"
    );
    let cis = report["compliance"]["frameworks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["framework"] == "cis-aws-3.0")
        .unwrap();
    let failing: Vec<&str> = cis["controls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(failing, ["2.2.1", "3.7", "5.1", "5.2", "5.3", "5.4", "5.6"]);
}

#[test]
fn serve_counts_every_aws_request_by_operation_and_sends_only_reads() {
    let moto = Moto::start();
    moto.python(SEED_SHOP);
    let repo = Repo::new();
    repo.write("README", "no declarations\n");
    repo.commit("empty");
    write_config(
        &repo,
        &format!(
            "sources: []\ntargets:\n{}serve:\n  interval: 1h\n  fetch_interval: 1h\n",
            aws_target("prod", &moto, "")
        ),
    );
    moto.start_recording();
    let env = moto.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let served = support::serve::Served::start(
        repo.path(),
        &repo.path().join("gitdrift.yaml"),
        &repo.path().join("data"),
        &env,
    );
    served.wait_until("ready", std::time::Duration::from_secs(60), |s| {
        s.get("/readyz").status == 200
    });
    let metrics = served.get("/metrics").body;
    let (code, log) = served.stop();
    assert_eq!(code, Some(0), "{log}");
    let calls = moto.assert_only_reads();
    let mut counted = 0.0;
    let mut verbs = BTreeSet::new();
    for line in metrics
        .lines()
        .filter(|l| l.starts_with("gitdrift_api_requests_total{"))
    {
        assert!(
            line.contains(r#"provider="aws""#) && line.contains(r#"target="prod""#),
            "{line}"
        );
        let verb = support::serve::label(line, "verb").unwrap();
        assert!(
            verb.starts_with("Describe") || verb.starts_with("Get"),
            "a read verb only: {line}"
        );
        verbs.insert(verb.to_string());
        counted += line.rsplit(' ').next().unwrap().parse::<f64>().unwrap();
    }
    for call in &calls {
        assert!(
            verbs.contains(&call.action),
            "{} reached moto but was not counted: {metrics}",
            call.action
        );
    }
    assert!(
        counted >= calls.len() as f64,
        "{counted} counted, {} recorded",
        calls.len()
    );
    assert!(
        metrics.contains(r#"gitdrift_write_refusals_total{provider="aws",target="prod"} 0"#),
        "nothing tried to write: {metrics}"
    );
}
