"""Pulumi's mock engine for the programs tests/test_install.py runs against the installed package: every resource
gets an id and an ARN; the account, region and partition lookups answer one test account. Importing it sets the
mocks (Pulumi's unit-testing guide: mocks first, then the program's imports)."""
import pulumi

MASTER_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1"

class Mocks(pulumi.runtime.Mocks):
    """Every resource gets an id and an ARN; the account/region/partition lookups answer one test account."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        state = {**args.inputs, "arn": f"arn:aws:mock:us-east-1:123456789012:{args.typ.split(':')[-1]}/{args.name}"}
        if args.typ == "aws:rds/instance:Instance":
            state.update(address=f"{args.name}.abc.us-east-1.rds.amazonaws.com", port=5432,
                         endpoint=f"{args.name}.abc.us-east-1.rds.amazonaws.com:5432",
                         master_user_secrets=[{"secret_arn": MASTER_SECRET}])
        if args.typ == "aws:lb/loadBalancer:LoadBalancer":
            state.update(dns_name=f"{args.name}.us-east-1.elb.amazonaws.com", zone_id="Z35SXDOTRQ7X7K",
                         arn_suffix=f"app/{args.name}/1")
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs):
        answers = {"aws:index/getCallerIdentity:getCallerIdentity": {"accountId": "123456789012", "arn":
                   "arn:aws:iam::123456789012:user/ci", "userId": "AIDA", "id": "123456789012"},
                   "aws:index/getPartition:getPartition": {"partition": "aws", "dnsSuffix": "amazonaws.com",
                                                           "id": "aws"},
                   "aws:index/getRegion:getRegion": {"name": "us-east-1", "region": "us-east-1", "id": "us-east-1"}}
        return answers.get(args.token, {}), []


pulumi.runtime.set_mocks(Mocks(), project="platform", stack="test", preview=False)
