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
- the outbox: the table has a NEW_IMAGE stream, and a Pipe reads it with the relay's filter and
  input template (tests/devkit/src/outbox.rs) into a queue a realtime sync-worker reads, with a
  dead-letter queue, its role granted the stream's reads and the sends (ingest has no QUEUE_URL);
- the queues are wired as the code expects:
  daily-batch's BATCH_QUEUE_URL by background ones only, its CONTINUATION_QUEUE_URL by
  daily-batch itself one message at a time; a worker parks (DEAD_LETTER_QUEUE_URL) on the DLQ of
  the queue it reads;
- every EventBridge rule that invokes a function has a Lambda permission for it, under the same
  condition; every condition used is defined;
- every function in functions/ is deployed;
- Fn::ForEach (AWS::LanguageExtensions) loops are expanded with two sample values first, so every
  check also sees what a loop makes; every function's SAM-made role (<Function>Role) may be named;
- least privilege: no IAM statement anywhere in the template (SAM Policies, AWS::IAM::Policy,
  ManagedPolicy, Role) has an action with `*`, a NotAction or NotResource, or a resource with `*`
  when it grants on a data service (dynamodb, sqs, secretsmanager, s3), even inside !Sub / !Join;
  no managed policy or SAM policy template of a data service;
- each secret is granted to exactly the functions that are given its id: the webhook secret to the
  functions whose WEBHOOK_SECRET_ID names it, every GHL location secret (Get and Put) to the
  functions given GHL_SECRET_ID, whose names in GHL_SECRET_ID are those of the secrets for each
  stage;
- every variable a function gets is one its binary reads (REQUIRED_ENV or OPTIONAL_ENV), STAGE is
  the Stage parameter, Architectures is arm64 or a parameter defaulting to it (arm64 / x86_64);
- every SQS event source sets ScalingConfig.MaximumConcurrency;
- every HTTP API event is POST /<binary>/<provider>, one path each, and each ingest binary has one;
- every function logs to a log group of the template named /aws/lambda/<its FunctionName>, with a
  retention; the table has TTL and point-in-time recovery;
- alarms: each dead-letter queue's visible messages > 0, each function's Errors and Throttles,
  the GHL 429 rate, token refresh failures, failed batch runs, and each batch job's overdue run
  (under the job's condition, missing data breaching), all notifying an SNS topic of the template;
  every LmsGhlSync metric the alarms and the dashboard use is in docs/operations.md's Metrics table
  and every alarm on one has the Stage dimension; no alarm evaluates longer than CloudWatch allows;
  the dashboard's body is JSON;
- every ${Name} in a !Sub names a resource (or its attribute), a parameter or a variable of the !Sub.
Exits 1 with one line per problem.
"""
import json
import pathlib
import re
import sys

from cfnlint.decode import cfn_yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]

INGEST_ENV = {"TABLE_NAME", "WEBHOOK_SECRET_ID"}
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
# What each binary may also be given (README "Environment variables"). STAGE names the deployment
# in the metrics' Stage dimension (docs/operations.md); every binary may have it.
COMMON_OPTIONAL = {"STAGE", "RUST_LOG", "LOG_FORMAT", "IDEMPOTENCY_TTL_SECS", "SECRET_CACHE_TTL_SECS", "AWS_ENDPOINT_URL"}
API_OPTIONAL = {
    "GHL_BASE_URL", "GHL_TIMEOUT_SECS", "MAPPING_FILE", "DEADLINE_FALLBACK_SECS",
    "SKILLJAR_BASE_URL", "TALENTLMS_BASE_URL", "TRAINUAL_BASE_URL",
}
OPTIONAL_ENV = {
    "learner-created": COMMON_OPTIONAL,
    "milestone-completed": COMMON_OPTIONAL,
    "note-added": COMMON_OPTIONAL,
    "ghl-events": COMMON_OPTIONAL,
    "sync-worker": COMMON_OPTIONAL | API_OPTIONAL | {"BUDGET_PRIORITY"},
    "daily-batch": COMMON_OPTIONAL | API_OPTIONAL,
}
DATA_SERVICES = {"dynamodb", "sqs", "secretsmanager", "s3"}
# SAM policy templates and AWS managed policies that grant on a data service.
DATA_POLICY_NAME = re.compile(r"dynamodb|sqs|secretsmanager|s3", re.IGNORECASE)
# The values a Fn::ForEach over a parameter is expanded with for the checks.
FOREACH_SAMPLES = ["LocA1", "LocB2"]
# The AWS metrics the alarms need (namespace, metric) besides the project's own (LmsGhlSync).
PROJECT_NAMESPACE = "LmsGhlSync"


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


def substitute(node, variable, value):
    """The node with ${variable} and !Ref variable replaced by value (one Fn::ForEach iteration)."""
    if isinstance(node, dict):
        if node.get("Ref") == variable:
            return value
        out = {}
        for key, child in node.items():
            child = substitute(child, variable, value)
            if key == "Ref" and isinstance(child, dict) and isinstance(child.get("Fn::Sub"), str):
                child = child["Fn::Sub"]  # !Ref {Fn::Sub: "Name${Var}"}: a name made by the loop
            out[key.replace("${" + variable + "}", value)] = child
        return out
    if isinstance(node, list):
        return [substitute(child, variable, value) for child in node]
    if isinstance(node, str):
        return node.replace("${" + variable + "}", value)
    return node


def expand_foreach(section, parameters, problems):
    """A template section (Resources, Outputs, Conditions) with its Fn::ForEach loops expanded."""
    out = {}
    for key, value in section.items():
        if not key.startswith("Fn::ForEach::"):
            out[key] = value
            continue
        variable, collection, body = value
        if isinstance(collection, dict) and "Ref" in collection:
            items = FOREACH_SAMPLES  # two, whatever the parameter's default: a loop must make distinct names
        elif isinstance(collection, list):
            items = [str(v) for v in collection]
        else:
            problems.append(f"{key}: collection {collection} is neither a list nor a !Ref")
            continue
        for item in items:
            for name, child in expand_foreach(substitute(body, variable, item), parameters, problems).items():
                if name in out or name in section:
                    problems.append(f"{key}: makes {name} twice")
                out[name] = child
    return out


def strings_of(node):
    """The literal text of a value: plain strings, !Sub templates, !Join parts (to look for `*`)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        if "Fn::Sub" in node:
            sub = node["Fn::Sub"]
            yield from strings_of(sub[0] if isinstance(sub, list) else sub)
        elif "Fn::Join" in node:
            delimiter, parts = node["Fn::Join"]
            yield delimiter
            yield from strings_of(parts)
        elif "Fn::If" in node:
            yield from strings_of(node["Fn::If"][1:])
    elif isinstance(node, list):
        for child in node:
            yield from strings_of(child)


def as_list(value):
    return value if isinstance(value, list) else [value]


def sam_policies(props):
    """Every policy of a SAM function's Policies, both branches of an !If included."""
    pending = list(as_list(props.get("Policies", [])))
    while pending:
        policy = pending.pop()
        if isinstance(policy, dict) and "Fn::If" in policy:
            pending.extend(policy["Fn::If"][1:])
        elif policy != {"Ref": "AWS::NoValue"}:
            yield policy


def policy_statements(props):
    """Every IAM statement of a SAM function's Policies, both branches of an !If included."""
    for policy in sam_policies(props):
        if isinstance(policy, dict):
            yield from as_list(policy.get("Statement", []))


def iam_statement_problems(owner, statement, problems):
    """Least privilege: no `*` action, no Not*, no `*` resource on a data service (or at all, plain)."""
    for negated in ("NotAction", "NotResource"):
        if negated in statement:
            problems.append(f"{owner}: IAM statement with {negated} (grants everything it does not name)")
    actions = [str(a) for a in as_list(statement.get("Action", []))]
    for action in actions:
        if "*" in action:
            problems.append(f"{owner}: wildcard action {action}")
    data = sorted({a.split(":")[0].lower() for a in actions} & DATA_SERVICES)
    for one in as_list(statement.get("Resource")):
        if isinstance(one, str) and "*" in one:
            problems.append(f"{owner}: wildcard resource {one}")
        elif data and any("*" in text for text in strings_of(one)):
            problems.append(f"{owner}: wildcard resource {list(strings_of(one))} on a data service ({', '.join(data)})")
    if data and statement.get("Resource") is None:
        problems.append(f"{owner}: IAM statement on {', '.join(data)} without a Resource")


def documented_metrics():
    """The metric names of docs/operations.md's Metrics table (first column, in backticks)."""
    path = ROOT / "docs/operations.md"
    if not path.exists():
        return set()
    text = path.read_text()
    section = text.split("## Metrics", 1)[-1].split("\n## ", 1)[0]
    return set(re.findall(r"^\|\s*`(\w+)`", section, re.MULTILINE))


def main():
    template = cfn_yaml.load(str(ROOT / "infra/template.yaml"))
    problems = []
    parameters = template.get("Parameters", {})
    for section in ("Resources", "Outputs", "Conditions"):
        template[section] = expand_foreach(template.get(section, {}), parameters, problems)
    resources = template.get("Resources", {})
    conditions = template.get("Conditions", {})
    # SAM makes <Function>Role for each function without a Role of its own.
    sam_roles = {
        f"{n}Role" for n, r in resources.items()
        if r.get("Type") == "AWS::Serverless::Function" and "Role" not in r.get("Properties", {})
    }
    names = set(resources) | set(parameters) | sam_roles | {
        "AWS::Region", "AWS::URLSuffix", "AWS::StackName", "AWS::AccountId", "AWS::Partition", "AWS::NoValue",
    }
    globals_fn = template.get("Globals", {}).get("Function", {})

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
        if "Fn::Sub" in node:
            sub = node["Fn::Sub"]
            text, variables = (sub[0], sub[1]) if isinstance(sub, list) else (sub, {})
            for name in re.findall(r"\$\{([^}!][^}]*)\}", text if isinstance(text, str) else ""):
                base = name.split(".")[0]
                if name not in variables and name not in names and not ("." in name and base in resources):
                    problems.append(f"!Sub ${{{name}}}: no such resource, attribute, parameter or variable")

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
    # A Pipe's dead-letter queue (the outbox's) counts as one too.
    pipes = {n: r.get("Properties", {}) for n, r in resources.items() if r.get("Type") == "AWS::Pipes::Pipe"}
    pipe_dead_letters = {}
    for name, props in pipes.items():
        for kind, source in props.get("SourceParameters", {}).items():
            if not isinstance(source, dict) or "DeadLetterConfig" not in source:
                continue
            dlq = target_of(source["DeadLetterConfig"].get("Arn"))
            if dlq not in queues:
                problems.append(f"{name}: {kind}.DeadLetterConfig {dlq} is not a queue of the template")
            else:
                pipe_dead_letters[name] = dlq
    for name in sorted(set(queues) - set(dead_letter_of) - set(dead_letter_of.values()) - set(pipe_dead_letters.values())):
        problems.append(f"{name}: queue without a dead-letter queue (RedrivePolicy)")

    binaries = {p.name for p in (ROOT / "functions").iterdir() if (p / "Cargo.toml").exists()}
    config_rs = (ROOT / "shared/src/config.rs").read_text()
    for binary, required in REQUIRED_ENV.items():
        for variable in sorted(required - {"TABLE_NAME"}):
            if f'"{variable}"' not in config_rs:
                problems.append(f"check_template.py: {variable} ({binary}) is not read in shared/src/config.rs")
    deployed = set()
    http_paths = {}  # path -> function
    routed = set()  # binaries with an HTTP API route
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
        architectures = props.get("Architectures", globals_fn.get("Architectures"))
        if architectures != ["arm64"]:
            chosen = parameters.get(target_of(architectures[0]) or "", {}) if isinstance(architectures, list) and len(architectures) == 1 else {}
            if chosen.get("Default") != "arm64" or not set(chosen.get("AllowedValues", [])) <= {"arm64", "x86_64"}:
                problems.append(f"{name}: Architectures must be [arm64], or [!Ref <parameter>] defaulting to arm64 (arm64 / x86_64)")
        timeout = props.get("Timeout", globals_fn.get("Timeout", 3))
        if not 1 <= int(timeout) <= 900:
            problems.append(f"{name}: Timeout {timeout} is outside 1..900")
        for policy in sam_policies(props):
            # An AWS managed policy (a name or ARN), or a SAM policy template ({Name: {...}}).
            named = policy if isinstance(policy, str) else next(
                (k for k in policy if k not in ("Statement", "Version")), None
            ) if isinstance(policy, dict) else None
            if named and DATA_POLICY_NAME.search(str(named)):
                problems.append(f"{name}: policy {named} grants on a data service: write the statements it needs")
        for statement in policy_statements(props):
            iam_statement_problems(name, statement, problems)

        environment = dict(globals_fn.get("Environment", {}).get("Variables", {}))
        environment.update(props.get("Environment", {}).get("Variables", {}))
        if binary not in REQUIRED_ENV:
            problems.append(f"{name}: check_template.py does not know what {binary!r} requires (REQUIRED_ENV)")
        for variable in sorted(REQUIRED_ENV.get(binary, set()) - set(environment)):
            problems.append(f"{name}: {binary} requires {variable}, which is not set")
        for variable in sorted(FORBIDDEN_ENV.get(binary, set()) & set(environment)):
            problems.append(f"{name}: {binary} does not read {variable}; do not set it")
        known = REQUIRED_ENV.get(binary, set()) | OPTIONAL_ENV.get(binary, set())
        for variable in sorted(set(environment) - known - FORBIDDEN_ENV.get(binary, set())):
            problems.append(f"{name}: {binary} reads no {variable} (REQUIRED_ENV / OPTIONAL_ENV)")
        if target_of(environment.get("STAGE")) != "Stage" or "Stage" not in parameters:
            problems.append(f"{name}: STAGE must be !Ref Stage (the metrics' Stage dimension)")

        # Logs: a log group of the template, named as Lambda would name it, with a retention.
        group = target_of(props.get("LoggingConfig", {}).get("LogGroup"))
        group_props = resources.get(group, {}).get("Properties", {}) if group else {}
        if resources.get(group, {}).get("Type") != "AWS::Logs::LogGroup":
            problems.append(f"{name}: LoggingConfig.LogGroup must name an AWS::Logs::LogGroup of the template")
        else:
            expected = ["/aws/lambda/" + text for text in strings_of(props.get("FunctionName"))]
            if not expected or list(strings_of(group_props.get("LogGroupName"))) != expected:
                problems.append(f"{name}: log group {group} is not named /aws/lambda/<FunctionName>")
            if "RetentionInDays" not in group_props:
                problems.append(f"{group}: no RetentionInDays (logs would be kept forever)")

        # HTTP API: POST /<binary>/<provider>.
        for event_name, event in props.get("Events", {}).items():
            if event.get("Type") != "HttpApi":
                continue
            ep = event.get("Properties", {})
            path, method = ep.get("Path", ""), ep.get("Method", "")
            if binary not in INGEST_BINARIES:
                problems.append(f"{name}.{event_name}: {binary} takes no HTTP requests")
            if not re.fullmatch(rf"/{re.escape(str(binary))}/[a-z0-9-]+", str(path)) or str(method).upper() != "POST":
                problems.append(f"{name}.{event_name}: must be POST /{binary}/<provider>, is {method} {path}")
            if path in http_paths:
                problems.append(f"{name}.{event_name}: path {path} is also {http_paths[path]}'s")
            http_paths[path] = name
            routed.add(binary)
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
            if most is None:
                problems.append(f"{name}.{event_name}: no ScalingConfig.MaximumConcurrency (a parameter, or AWS's least, 2)")
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

    # The outbox: what ingest writes reaches a realtime worker through the table's stream.
    table = next((n for n, r in resources.items() if r.get("Type") == "AWS::DynamoDB::Table"), None)
    stream = (resources.get(table, {}).get("Properties", {}).get("StreamSpecification") or {}).get("StreamViewType")
    if stream not in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
        problems.append(f"{table}: no stream with new images (StreamSpecification), the outbox's source")
    relay = (ROOT / "tests/devkit/src/outbox.rs").read_text()
    outbox_pipes = [n for n, p in pipes.items() if target_of(p.get("Source")) == table]
    if deployed & INGEST_BINARIES and not outbox_pipes:
        problems.append(f"no Pipe reads {table}'s stream: accepted deliveries would never reach a queue")
    for name in outbox_pipes:
        props = pipes[name]
        patterns = [f.get("Pattern", "") for f in props.get("SourceParameters", {}).get("FilterCriteria", {}).get("Filters", [])]
        template = props.get("TargetParameters", {}).get("InputTemplate", "")
        if len(patterns) != 1 or f'r#"{patterns[0]}"#' not in relay:
            problems.append(f"{name}: FilterCriteria is not tests/devkit/src/outbox.rs's FILTER_PATTERN")
        if not template or f'"{template}"' not in relay:
            problems.append(f"{name}: InputTemplate is not tests/devkit/src/outbox.rs's INPUT_TEMPLATE")
        if name not in pipe_dead_letters:
            problems.append(f"{name}: no DeadLetterConfig (a batch the queue refuses would be retried, then dropped)")
        queue = target_of(props.get("Target"))
        readers = consumers(queue)
        if not any(b == "sync-worker" for _, b, _, _ in readers):
            problems.append(f"{name}: its target {queue} is read by no sync-worker")
        for reader, _, env, _ in readers:
            if env.get("BUDGET_PRIORITY", "realtime") != "realtime":
                problems.append(f"{reader}: reads the realtime queue {queue} with a background budget")
        role = resources.get(target_of(props.get("RoleArn")), {})
        granted = {}
        for policy in as_list(role.get("Properties", {}).get("Policies", [])):
            for statement in as_list(policy.get("PolicyDocument", {}).get("Statement", [])):
                for one in as_list(statement.get("Resource")):
                    granted.setdefault(target_of(one), set()).update(as_list(statement.get("Action", [])))
        needs = [(table, "dynamodb:GetRecords"), (table, "dynamodb:GetShardIterator"), (table, "dynamodb:DescribeStream"),
                 (queue, "sqs:SendMessage"), (pipe_dead_letters.get(name), "sqs:SendMessage")]
        for resource, action in needs:
            if action not in granted.get(resource, set()):
                problems.append(f"{name}: its role may not {action} on {resource}")

    for name, (binary, environment, consumed) in functions.items():
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

    for binary in sorted(INGEST_BINARIES & deployed - routed):
        problems.append(f"{binary}: deployed without an HTTP API route (POST /{binary}/<provider>)")

    # IAM outside the functions' Policies: AWS::IAM::Policy / ManagedPolicy / Role resources.
    role_of = {f"{n}Role": n for n in functions}  # SAM's role name -> function
    grants = {}  # (function, resource name) -> actions
    for name, resource in resources.items():
        kind, props = resource.get("Type"), resource.get("Properties", {})
        documents = []
        if kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents = [props.get("PolicyDocument", {})]
            for arn in as_list(props.get("ManagedPolicyArns", [])):
                if DATA_POLICY_NAME.search(" ".join(strings_of(arn))):
                    problems.append(f"{name}: managed policy {arn} grants on a data service")
        elif kind == "AWS::IAM::Role":
            documents = [p.get("PolicyDocument", {}) for p in as_list(props.get("Policies", []))]
            for arn in as_list(props.get("ManagedPolicyArns", [])):
                if DATA_POLICY_NAME.search(" ".join(strings_of(arn))):
                    problems.append(f"{name}: managed policy {arn} grants on a data service")
        for document in documents:
            for statement in as_list(document.get("Statement", [])):
                iam_statement_problems(name, statement, problems)
                for role in as_list(props.get("Roles", [])):
                    function = role_of.get(target_of(role))
                    if kind == "AWS::IAM::Policy" and target_of(role) not in names:
                        problems.append(f"{name}: role {role} is not one of the template")
                    if function is None:
                        continue
                    for one in as_list(statement.get("Resource")):
                        grants.setdefault((function, target_of(one)), set()).update(as_list(statement.get("Action", [])))
    for function in functions:
        for statement in policy_statements(resources[function].get("Properties", {})):
            for one in as_list(statement.get("Resource")):
                grants.setdefault((function, target_of(one)), set()).update(as_list(statement.get("Action", [])))

    # Each secret to exactly the functions given its id.
    secrets = [n for n, r in resources.items() if r.get("Type") == "AWS::SecretsManager::Secret"]
    ghl_readers = {n for n, (_, env, _) in functions.items() if "GHL_SECRET_ID" in env}
    for secret in secrets:
        holders = {f for (f, target) in grants if target == secret}
        if secret.startswith("GhlSecret"):
            wanted, actions = ghl_readers, {"secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"}
        else:
            wanted = {n for n, (_, env, _) in functions.items() if target_of(env.get("WEBHOOK_SECRET_ID")) == secret}
            actions = {"secretsmanager:GetSecretValue"}
        for function in sorted(holders - wanted):
            problems.append(f"{function}: may use {secret}, whose id it is not given")
        for function in sorted(wanted):
            for action in sorted(actions - grants.get((function, secret), set())):
                problems.append(f"{function}: may not {action} on {secret}, whose id it is given")
    # GHL_SECRET_ID names the location secrets: "<prefix><loc>,<prefix><loc>..." for each stage.
    ghl_secrets = [n for n in secrets if n.startswith("GhlSecret")]
    if ghl_readers and not ghl_secrets:
        problems.append("no GHL location secret (GhlSecret<location>) for GHL_SECRET_ID")
    for secret in ghl_secrets[:1]:
        names_ = list(strings_of(resources[secret]["Properties"].get("Name")))
        location = secret[len("GhlSecret"):]
        for function in sorted(ghl_readers):
            value = functions[function][1]["GHL_SECRET_ID"]
            branches = value["Fn::If"][1:] if isinstance(value, dict) and "Fn::If" in value else [value]
            stages = parameters.get("Stage", {}).get("AllowedValues", [])
            seen = set()
            for branch in branches:
                try:
                    template_, variables = branch["Fn::Sub"]
                    (var, joined), = variables.items()
                    delimiter, listed = joined["Fn::Join"]
                    prefix = template_.replace("${" + var + "}", "")
                    ok = template_.endswith("${" + var + "}") and delimiter == "," + prefix and target_of(listed) == "GhlLocations"
                except (KeyError, TypeError, ValueError, AttributeError):
                    ok, prefix = False, None
                stage = next((st for st in stages if names_ and prefix == names_[0].replace("${Stage}", st).replace(location, "")), None)
                if not ok or stage is None:
                    problems.append(f"{function}: GHL_SECRET_ID {branch} does not list the GHL secrets' names (lms-ghl-sync/<Stage>/ghl/<location>, comma-separated)")
                seen.add(stage)
            if len(branches) > 1 and seen != set(stages):
                problems.append(f"{function}: GHL_SECRET_ID covers stages {sorted(map(str, seen))}, not {stages}")

    # The table keeps its items' expiry and can be restored.
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::DynamoDB::Table":
            continue
        props = resource.get("Properties", {})
        if not props.get("TimeToLiveSpecification", {}).get("Enabled"):
            problems.append(f"{name}: TimeToLiveSpecification must be enabled")
        if not props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
            problems.append(f"{name}: PointInTimeRecoverySpecification must be enabled")

    # Alarms, each to a topic of the template.
    alarms = {n: r for n, r in resources.items() if r.get("Type") == "AWS::CloudWatch::Alarm"}
    topics = {n for n, r in resources.items() if r.get("Type") == "AWS::SNS::Topic"}
    def alarmed(namespace, metric, dimension=None, value=None):
        found = []
        for alarm_name, alarm in alarms.items():
            props = alarm.get("Properties", {})
            stats = [props] + [m.get("MetricStat", {}).get("Metric", {}) for m in props.get("Metrics", [])]
            for stat in stats:
                if stat.get("Namespace") != namespace or stat.get("MetricName") != metric:
                    continue
                dims = {d.get("Name"): d.get("Value") for d in stat.get("Dimensions", [])}
                if dimension is None or target_of(dims.get(dimension)) == value:
                    found.append((alarm_name, props, alarm.get("Condition")))
        return found
    for alarm_name, alarm in alarms.items():
        props = alarm.get("Properties", {})
        if not any(target_of(a) in topics for a in as_list(props.get("AlarmActions", []))):
            problems.append(f"{alarm_name}: notifies no SNS topic of the template (AlarmActions)")
        # CloudWatch evaluates at most one day with periods under an hour, seven days otherwise.
        periods = [props.get("Period")] + [m.get("MetricStat", {}).get("Period") for m in props.get("Metrics", [])]
        period = max(int(x) for x in periods if x is not None) if any(x is not None for x in periods) else None
        evaluations = int(props.get("EvaluationPeriods", 1))
        if period is not None and period * evaluations > (86400 if period < 3600 else 604800):
            problems.append(f"{alarm_name}: Period {period} × EvaluationPeriods {evaluations} is longer than CloudWatch evaluates")
        if int(props.get("DatapointsToAlarm", evaluations)) > evaluations:
            problems.append(f"{alarm_name}: DatapointsToAlarm > EvaluationPeriods")
    for dlq in sorted(set(dead_letter_of.values()) | set(pipe_dead_letters.values())):
        found = [p for _, p, _ in alarmed("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", dlq)
                 if p.get("ComparisonOperator") == "GreaterThanThreshold" and float(p.get("Threshold", -1)) == 0]
        if not found:
            problems.append(f"{dlq}: no alarm on ApproximateNumberOfMessagesVisible > 0")
    for function in functions:
        for metric in ("Errors", "Throttles"):
            if not alarmed("AWS/Lambda", metric, "FunctionName", function):
                problems.append(f"{function}: no alarm on its {metric}")
    for metric, why in (("Ghl429", "the GHL 429 rate"), ("GhlCalls", "the GHL 429 rate"),
                        ("TokenRefreshFailures", "token refresh failures"), ("BatchRunsFailed", "failed batch runs")):
        if not alarmed(PROJECT_NAMESPACE, metric):
            problems.append(f"no alarm on {PROJECT_NAMESPACE} {metric} ({why})")
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::Events::Rule" or not any(target_of(t.get("Arn")) in functions and functions[target_of(t.get("Arn"))][0] == "daily-batch" for t in resource.get("Properties", {}).get("Targets", [])):
            continue
        job = re.sub(r"\D*(\d*)Rule$", r"BatchJob\1", name)
        overdue = [
            (a, p) for a, p, condition in alarmed(PROJECT_NAMESPACE, "BatchRunsFinished", "Job", job)
            if condition == resource.get("Condition") and p.get("TreatMissingData") == "breaching"
            and p.get("ComparisonOperator") == "LessThanThreshold"
        ]
        if not overdue:
            problems.append(f"{name}: no overdue alarm on BatchRunsFinished (Job {job}, same condition, missing data breaching)")
    # Project metrics: documented, with the Stage dimension.
    documented = documented_metrics()
    if not documented:
        problems.append("docs/operations.md has no Metrics table (| `Name` | ...)")
    used = set()
    for alarm_name, alarm in alarms.items():
        props = alarm.get("Properties", {})
        for stat in [props] + [m.get("MetricStat", {}).get("Metric", {}) for m in props.get("Metrics", [])]:
            if stat.get("Namespace") == PROJECT_NAMESPACE:
                used.add(stat.get("MetricName"))
                if not any(d.get("Name") == "Stage" and target_of(d.get("Value")) == "Stage" for d in stat.get("Dimensions", [])):
                    problems.append(f"{alarm_name}: {stat.get('MetricName')} without the Stage dimension (!Ref Stage)")
    for name, resource in resources.items():
        if resource.get("Type") == "AWS::CloudWatch::Dashboard":
            body = " ".join(strings_of(resource.get("Properties", {}).get("DashboardBody")))
            try:
                widgets = json.loads(re.sub(r"\$\{[^}]+\}", "x", body)).get("widgets", [])
                if not widgets:
                    problems.append(f"{name}: DashboardBody has no widgets")
            except ValueError as error:
                problems.append(f"{name}: DashboardBody is not JSON ({error})")
            used.update(re.findall(r'"' + PROJECT_NAMESPACE + r'",\s*"(\w+)"', body))
            used.update(re.findall(r'MetricName=\\"(\w+)\\"', body))
    for metric in sorted(used - documented):
        problems.append(f"{PROJECT_NAMESPACE} {metric}: used by an alarm or the dashboard, not in docs/operations.md's Metrics table")

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
