#!/usr/bin/env python3
"""Checks of infra/template.yaml that cfn-lint does not make for SAM resources.

- every function: a Binary that is a workspace package under functions/, provided.al2023 / arm64,
  a Timeout within Lambda's 900 s;
- every !Ref / !GetAtt names a resource or parameter that exists;
- IAM statements name actions without wildcards, and resources (no "*");
- the SQS event source reports batch item failures, and the queue's visibility timeout is at least
  six times the consuming function's timeout (AWS's advice for Lambda event sources);
- every function in functions/ is deployed.
Exits 1 with one line per problem.
"""
import pathlib
import sys

from cfnlint.decode import cfn_yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]


def walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def main():
    template = cfn_yaml.load(str(ROOT / "infra/template.yaml"))
    resources = template.get("Resources", {})
    names = set(resources) | set(template.get("Parameters", {})) | {"AWS::Region", "AWS::URLSuffix", "AWS::StackName", "AWS::AccountId"}
    globals_fn = template.get("Globals", {}).get("Function", {})
    problems = []

    for node in walk(template):
        if "Ref" in node and isinstance(node["Ref"], str) and node["Ref"] not in names:
            problems.append(f"!Ref {node['Ref']}: no such resource or parameter")
        if "Fn::GetAtt" in node:
            target = node["Fn::GetAtt"]
            target = target[0] if isinstance(target, list) else str(target).split(".")[0]
            if target not in resources:
                problems.append(f"!GetAtt {target}: no such resource")

    binaries = {p.name for p in (ROOT / "functions").iterdir() if (p / "Cargo.toml").exists()}
    deployed = set()
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties", {})
        binary = resource.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
        deployed.add(binary)
        if binary not in binaries:
            problems.append(f"{name}: Binary {binary!r} is not a package under functions/")
        if props.get("Runtime", globals_fn.get("Runtime")) != "provided.al2023":
            problems.append(f"{name}: Runtime must be provided.al2023")
        if props.get("Architectures", globals_fn.get("Architectures")) != ["arm64"]:
            problems.append(f"{name}: Architectures must be [arm64]")
        timeout = props.get("Timeout", globals_fn.get("Timeout", 3))
        if not 1 <= int(timeout) <= 900:
            problems.append(f"{name}: Timeout {timeout} is outside 1..900")
        for policy in props.get("Policies", []):
            for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
                actions = statement.get("Action", [])
                for action in actions if isinstance(actions, list) else [actions]:
                    if "*" in str(action):
                        problems.append(f"{name}: wildcard action {action}")
                resource_ = statement.get("Resource")
                if resource_ == "*" or resource_ == ["*"]:
                    problems.append(f"{name}: wildcard resource")
        for event_name, event in props.get("Events", {}).items():
            if event.get("Type") != "SQS":
                continue
            ep = event.get("Properties", {})
            if "ReportBatchItemFailures" not in ep.get("FunctionResponseTypes", []):
                problems.append(f"{name}.{event_name}: FunctionResponseTypes must include ReportBatchItemFailures")
            queue = ep.get("Queue", {}).get("Fn::GetAtt", [None])[0]
            visibility = resources.get(queue, {}).get("Properties", {}).get("VisibilityTimeout", 30)
            if int(visibility) < 6 * int(timeout):
                problems.append(f"{queue}: VisibilityTimeout {visibility} < 6 × {name} Timeout {timeout}")
    for missing in sorted(binaries - deployed):
        problems.append(f"functions/{missing} is not deployed by the template")

    for problem in problems:
        print(f"infra/template.yaml: {problem}")
    if not problems:
        print(f"infra/template.yaml: {len(resources)} resources checked, no problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
