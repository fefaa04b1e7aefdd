#!/usr/bin/env python3
"""Checks of infra/template.yaml that cfn-lint does not make for SAM resources.

- every function: a Binary that is a workspace package under functions/, provided.al2023 / arm64,
  a Timeout within Lambda's 900 s;
- every !Ref / !GetAtt names a resource or parameter that exists;
- IAM statements name actions without wildcards, and resources (no "*");
- the SQS event source reports batch item failures, and the queue's visibility timeout is at least
  six times the consuming function's timeout (AWS's advice for Lambda event sources); a
  ScalingConfig.MaximumConcurrency is at least 2 (AWS's least);
- every queue has a dead-letter queue (a redrive policy naming a queue of the template) that keeps
  messages at least as long, or is one;
- every function gets the environment its binary requires (REQUIRED_ENV, names checked against
  shared/src/config.rs) and none it must not have; BUDGET_PRIORITY is realtime or background;
- the queues are wired as the code expects: ingest's QUEUE_URL is read by a realtime sync-worker,
  daily-batch's BATCH_QUEUE_URL by background ones only, its CONTINUATION_QUEUE_URL by
  daily-batch itself one message at a time; a worker parks (DEAD_LETTER_QUEUE_URL) on the DLQ of
  the queue it reads;
- every EventBridge rule that invokes a function has a Lambda permission for it, under the same
  condition; every condition used is defined;
- every function in functions/ is deployed.
Exits 1 with one line per problem.
"""
import pathlib
import sys

from cfnlint.decode import cfn_yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]

INGEST_ENV = {"TABLE_NAME", "QUEUE_URL", "WEBHOOK_SECRET_ID"}
# What each binary reads with `env.required(..)` (shared/src/config.rs); TABLE_NAME comes from Globals.
REQUIRED_ENV = {
    "learner-created": INGEST_ENV,
    "milestone-completed": INGEST_ENV,
    "note-added": INGEST_ENV,
    "ghl-events": INGEST_ENV,
    "sync-worker": {"TABLE_NAME", "DEAD_LETTER_QUEUE_URL", "GHL_SECRET_ID"},
    "daily-batch": {"TABLE_NAME", "GHL_SECRET_ID", "BATCH_QUEUE_URL", "CONTINUATION_QUEUE_URL"},
}
# BatchSettings sets these itself (it parks nothing; it is always background): a value in the
# template would only mislead its reader.
FORBIDDEN_ENV = {"daily-batch": {"DEAD_LETTER_QUEUE_URL", "BUDGET_PRIORITY"}}


def walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


INGEST_BINARIES = {"learner-created", "milestone-completed", "note-added", "ghl-events"}


def target_of(value):
    """The resource a !Ref or !GetAtt names, else None."""
    if isinstance(value, dict):
        if isinstance(value.get("Ref"), str):
            return value["Ref"]
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return target[0] if isinstance(target, list) else str(target).split(".")[0]
    return None


def policy_statements(props):
    """Every IAM statement of a SAM function's Policies, both branches of an !If included."""
    pending = list(props.get("Policies", []))
    while pending:
        policy = pending.pop()
        if isinstance(policy, dict) and "Fn::If" in policy:
            pending.extend(policy["Fn::If"][1:])
        elif isinstance(policy, dict):
            yield from policy.get("Statement", [])


def main():
    template = cfn_yaml.load(str(ROOT / "infra/template.yaml"))
    resources = template.get("Resources", {})
    parameters = template.get("Parameters", {})
    conditions = template.get("Conditions", {})
    names = set(resources) | set(parameters) | {
        "AWS::Region", "AWS::URLSuffix", "AWS::StackName", "AWS::AccountId", "AWS::Partition", "AWS::NoValue",
    }
    globals_fn = template.get("Globals", {}).get("Function", {})
    problems = []

    for name, resource in resources.items():
        if "Condition" in resource and resource["Condition"] not in conditions:
            problems.append(f"{name}: no such condition {resource['Condition']}")

    for node in walk(template):
        if "Ref" in node and isinstance(node["Ref"], str) and node["Ref"] not in names:
            problems.append(f"!Ref {node['Ref']}: no such resource or parameter")
        if "Fn::GetAtt" in node:
            target = node["Fn::GetAtt"]
            target = target[0] if isinstance(target, list) else str(target).split(".")[0]
            if target not in resources:
                problems.append(f"!GetAtt {target}: no such resource")
        if "Fn::If" in node and node["Fn::If"][0] not in conditions:
            problems.append(f"!If {node['Fn::If'][0]}: no such condition")

    # Every queue has a DLQ (or is one), which keeps a message at least as long as its source.
    queues = {n: r.get("Properties", {}) for n, r in resources.items() if r.get("Type") == "AWS::SQS::Queue"}
    dead_letter_of = {}
    for name, props in queues.items():
        dlq = target_of(props.get("RedrivePolicy", {}).get("deadLetterTargetArn"))
        if dlq is None:
            continue
        if dlq not in queues:
            problems.append(f"{name}: deadLetterTargetArn {dlq} is not a queue of the template")
            continue
        dead_letter_of[name] = dlq
        if not props.get("RedrivePolicy", {}).get("maxReceiveCount"):
            problems.append(f"{name}: RedrivePolicy without maxReceiveCount")
        retention = int(props.get("MessageRetentionPeriod", 345600))
        if int(queues[dlq].get("MessageRetentionPeriod", 345600)) < retention:
            problems.append(f"{dlq}: keeps messages shorter than {name}, whose dead-letter queue it is")
    for name in sorted(set(queues) - set(dead_letter_of) - set(dead_letter_of.values())):
        problems.append(f"{name}: queue without a dead-letter queue (RedrivePolicy)")

    binaries = {p.name for p in (ROOT / "functions").iterdir() if (p / "Cargo.toml").exists()}
    config_rs = (ROOT / "shared/src/config.rs").read_text()
    for binary, required in REQUIRED_ENV.items():
        for variable in sorted(required - {"TABLE_NAME"}):
            if f'"{variable}"' not in config_rs:
                problems.append(f"check_template.py: {variable} ({binary}) is not read in shared/src/config.rs")
    deployed = set()
    functions = {}  # name -> (binary, environment, {queue: SQS event properties})
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
        for statement in policy_statements(props):
            actions = statement.get("Action", [])
            for action in actions if isinstance(actions, list) else [actions]:
                if "*" in str(action):
                    problems.append(f"{name}: wildcard action {action}")
            resource_ = statement.get("Resource")
            for one in resource_ if isinstance(resource_, list) else [resource_]:
                if isinstance(one, str) and "*" in one:
                    problems.append(f"{name}: wildcard resource {one}")

        environment = dict(globals_fn.get("Environment", {}).get("Variables", {}))
        environment.update(props.get("Environment", {}).get("Variables", {}))
        if binary not in REQUIRED_ENV:
            problems.append(f"{name}: check_template.py does not know what {binary!r} requires (REQUIRED_ENV)")
        for variable in sorted(REQUIRED_ENV.get(binary, set()) - set(environment)):
            problems.append(f"{name}: {binary} requires {variable}, which is not set")
        for variable in sorted(FORBIDDEN_ENV.get(binary, set()) & set(environment)):
            problems.append(f"{name}: {binary} does not read {variable}; do not set it")
        if environment.get("BUDGET_PRIORITY", "realtime") not in ("realtime", "background"):
            problems.append(f"{name}: BUDGET_PRIORITY is neither realtime nor background")

        consumed = {}
        for event_name, event in props.get("Events", {}).items():
            if event.get("Type") != "SQS":
                continue
            ep = event.get("Properties", {})
            if "ReportBatchItemFailures" not in ep.get("FunctionResponseTypes", []):
                problems.append(f"{name}.{event_name}: FunctionResponseTypes must include ReportBatchItemFailures")
            queue = target_of(ep.get("Queue"))
            consumed[queue] = ep
            visibility = resources.get(queue, {}).get("Properties", {}).get("VisibilityTimeout", 30)
            if int(visibility) < 6 * int(timeout):
                problems.append(f"{queue}: VisibilityTimeout {visibility} < 6 × {name} Timeout {timeout}")
            # A message a dead invocation held must outlive its claim (the invocation's timeout)
            # many times over before the redrive policy parks it; tests/devkit's LOCAL_TIMING keeps
            # the same ratio for scripts/run.
            receives = resources.get(queue, {}).get("Properties", {}).get("RedrivePolicy", {}).get("maxReceiveCount", 0)
            if int(receives) * int(visibility) < 10 * int(timeout):
                problems.append(f"{queue}: maxReceiveCount {receives} × VisibilityTimeout {visibility} < 10 × {name} Timeout {timeout}")
            most = ep.get("ScalingConfig", {}).get("MaximumConcurrency")
            if isinstance(most, dict):
                parameter = parameters.get(most.get("Ref"), {})
                least = min(int(parameter.get("MinValue", 0)), int(parameter.get("Default", 0)))
                if least < 2:
                    problems.append(f"{name}.{event_name}: MaximumConcurrency parameter allows less than 2")
            elif most is not None and int(most) < 2:
                problems.append(f"{name}.{event_name}: MaximumConcurrency {most} < 2 (AWS's least)")
        functions[name] = (binary, environment, consumed)

    # The queues as the code uses them.
    def consumers(queue):
        return [(n, b, env, c[queue]) for n, (b, env, c) in functions.items() if queue in c]

    for name, (binary, environment, consumed) in functions.items():
        if binary in INGEST_BINARIES:
            queue = target_of(environment.get("QUEUE_URL"))
            readers = consumers(queue)
            if not any(b == "sync-worker" for _, b, _, _ in readers):
                problems.append(f"{name}: QUEUE_URL {queue} is read by no sync-worker")
            for reader, _, env, _ in readers:
                if env.get("BUDGET_PRIORITY", "realtime") != "realtime":
                    problems.append(f"{reader}: reads the realtime queue {queue} with a background budget")
        if binary == "daily-batch":
            queue = target_of(environment.get("BATCH_QUEUE_URL"))
            readers = consumers(queue)
            if not readers:
                problems.append(f"{name}: BATCH_QUEUE_URL {queue} is read by no function")
            for reader, b, env, _ in readers:
                if b != "sync-worker" or env.get("BUDGET_PRIORITY") != "background":
                    problems.append(f"{reader}: reads the batch queue {queue}: must be a sync-worker with BUDGET_PRIORITY=background")
            queue = target_of(environment.get("CONTINUATION_QUEUE_URL"))
            readers = consumers(queue)
            if not any(b == "daily-batch" for _, b, _, _ in readers):
                problems.append(f"{name}: CONTINUATION_QUEUE_URL {queue} is read by no daily-batch")
            for reader, b, _, ep in readers:
                if b != "daily-batch" or int(ep.get("BatchSize", 10)) != 1:
                    problems.append(f"{reader}: reads the continuation queue {queue}: must be daily-batch with BatchSize 1")
        if binary == "sync-worker":
            parks = target_of(environment.get("DEAD_LETTER_QUEUE_URL"))
            for queue in consumed:
                if dead_letter_of.get(queue) != parks:
                    problems.append(f"{name}: parks on {parks}, not on {queue}'s dead-letter queue {dead_letter_of.get(queue)}")
                # The worker holds back a record whose event another invocation is syncing.
                granted = set()
                for statement in policy_statements(resources[name].get("Properties", {})):
                    if target_of(statement.get("Resource")) == queue:
                        actions = statement.get("Action", [])
                        granted.update([actions] if isinstance(actions, str) else actions)
                for action in sorted({"sqs:ChangeMessageVisibility", "sqs:GetQueueUrl"} - granted):
                    problems.append(f"{name}: may not {action} on {queue} (the worker's holds need it)")

    # Scheduled invocations: each rule may invoke its function, under the same condition.
    permissions = [r for r in resources.values() if r.get("Type") == "AWS::Lambda::Permission"]
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::Events::Rule":
            continue
        for target in resource.get("Properties", {}).get("Targets", []):
            function = target_of(target.get("Arn"))
            if function not in functions:
                continue
            allowed = [
                p for p in permissions
                if target_of(p["Properties"].get("SourceArn")) == name
                and target_of(p["Properties"].get("FunctionName")) == function
                and p.get("Condition") == resource.get("Condition")
            ]
            if not allowed:
                problems.append(f"{name}: no AWS::Lambda::Permission lets it invoke {function} (under its condition)")
    for missing in sorted(binaries - deployed):
        problems.append(f"functions/{missing} is not deployed by the template")

    for problem in problems:
        print(f"infra/template.yaml: {problem}")
    if not problems:
        print(f"infra/template.yaml: {len(resources)} resources checked, no problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
