#!/usr/bin/env python3
"""Local pipeline helpers for scripts/run (boto3 comes with moto in .tools/venv).

  local.py provision            create queue + DLQ, table (TTL), secrets on moto; print env lines
  local.py forward              poll the queue, invoke sync-worker with real SQS events, delete
                                what it reports done (Ctrl-C to stop)
  local.py replay [--expect X]  send every sample under events/*/ to the function its directory
                                names (generic ones re-signed now); X = accepted | duplicate
  local.py tampered             send a generic sample whose body was changed after signing
  local.py parked               print how many messages sit on the DLQ (reasons on stderr)
"""
import argparse, base64, hashlib, hmac, json, os, pathlib, sys, time, urllib.error, urllib.request

import boto3

ROOT = pathlib.Path(__file__).resolve().parents[2]
LAMBDA = os.environ.get("LAMBDA_URL", "http://127.0.0.1:9000")
PREFIX = os.environ.get("LOCAL_PREFIX", "lms-ghl-local")


def client(service):
    return boto3.client(service, endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])


def provision(_args):
    sqs, ddb, sm = client("sqs"), client("dynamodb"), client("secretsmanager")
    dlq = sqs.create_queue(QueueName=f"{PREFIX}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(
        QueueName=f"{PREFIX}-realtime",
        Attributes={
            "VisibilityTimeout": "5",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}),
        },
    )["QueueUrl"]
    table = f"{PREFIX}-sync"
    ddb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    ddb.update_time_to_live(TableName=table, TimeToLiveSpecification={"AttributeName": "expiration", "Enabled": True})
    webhooks = (ROOT / "config/local/webhooks.json").read_text()
    token, location = os.environ.get("GHL_PRIVATE_INTEGRATION_TOKEN"), os.environ.get("GHL_LOCATION_ID")
    if token and location:
        ghl = json.dumps({"locationId": location, "privateIntegrationToken": token})
    else:
        ghl = (ROOT / "config/local/ghl.json").read_text()
    sm.create_secret(Name=f"{PREFIX}/webhooks", SecretString=webhooks)
    sm.create_secret(Name=f"{PREFIX}/ghl", SecretString=ghl)
    print(f"QUEUE_URL={queue}")
    print(f"DEAD_LETTER_QUEUE_URL={dlq}")
    print(f"TABLE_NAME={table}")
    print(f"WEBHOOK_SECRET_ID={PREFIX}/webhooks")
    print(f"GHL_SECRET_ID={PREFIX}/ghl")


def invoke(function, payload):
    request = urllib.request.Request(
        f"{LAMBDA}/2015-03-31/functions/{function}/invocations",
        data=json.dumps(payload).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=300) as response:
        return json.loads(response.read() or b"null")


def sqs_event(queue_arn, messages):
    records = []
    for m in messages:
        records.append({
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m.get("Attributes", {}),
            "messageAttributes": {
                k: {"stringValue": v.get("StringValue"), "dataType": v["DataType"], "stringListValues": [], "binaryListValues": []}
                for k, v in m.get("MessageAttributes", {}).items()
            },
            "md5OfBody": m["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": os.environ["AWS_REGION"],
        })
    return {"Records": records}


def forward(_args):
    sqs = client("sqs")
    queue = os.environ["QUEUE_URL"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    print("[forward] polling the realtime queue for sync-worker", flush=True)
    while True:
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                  AttributeNames=["All"], MessageAttributeNames=["All"])
        messages = got.get("Messages", [])
        if not messages:
            continue
        try:
            result = invoke("sync-worker", sqs_event(arn, messages))
        except (urllib.error.URLError, OSError) as e:
            print(f"[forward] sync-worker not reachable ({e}); messages stay on the queue", flush=True)
            time.sleep(2)
            continue
        failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        for m in messages:
            if m["MessageId"] in failed:
                print(f"[forward] {m['MessageId']}: failed, SQS will redeliver", flush=True)
            else:
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
                print(f"[forward] {m['MessageId']}: done", flush=True)


def sign(body):
    secret = json.loads((ROOT / "config/local/webhooks.json").read_text())["generic"]["signingSecrets"][0]
    ts = int(time.time())
    return f"t={ts},v1=" + hmac.new(secret.encode(), f"{ts}.{body}".encode(), hashlib.sha256).hexdigest()


def samples(functions="*"):
    """(function, file name, event) for each sample; the directory names the function."""
    for path in sorted((ROOT / "events").glob(f"{functions}/*.json")):
        event = json.loads(path.read_text())
        if "x-webhook-signature" in event["headers"]:
            event["headers"]["x-webhook-signature"] = sign(event["body"])
        yield path.parent.name, path.name, event


def send(function, name, event):
    response = invoke(function, event)
    status = response.get("statusCode")
    print(f"[replay] {function}/{name}: {status} {response.get('body')}", flush=True)
    return status, json.loads(response.get("body") or "{}")


def replay(args):
    expected = {"accepted": (202, "accepted"), "duplicate": (200, "duplicate")}.get(args.expect)
    ok = True
    for function, name, event in samples():
        status, body = send(function, name, event)
        if expected and (status, body.get("status")) != expected:
            ok = False
    return 0 if ok else 1


def tampered(_args):
    for function, name, event in samples("learner-created"):
        if "x-webhook-signature" in event["headers"]:
            break
    event["body"] = event["body"].replace("Katherine", "Mallory")
    status, body = send(function, f"{name} (body changed after signing)", event)
    return 0 if status == 401 and body.get("error") == "unauthorized" else 1


def parked(_args):
    """Prints how many messages the worker parked on the DLQ (and why, on stderr)."""
    sqs = client("sqs")
    got = sqs.receive_message(QueueUrl=os.environ["DEAD_LETTER_QUEUE_URL"], MaxNumberOfMessages=10,
                              WaitTimeSeconds=0, MessageAttributeNames=["All"], VisibilityTimeout=0)
    messages = got.get("Messages", [])
    for m in messages:
        attrs = m.get("MessageAttributes", {})
        reason = attrs.get("error_reason", {}).get("StringValue")
        detail = attrs.get("error_detail", {}).get("StringValue")
        print(f"[parked] {m['MessageId']}: {reason}: {detail}", file=sys.stderr)
    print(len(messages))


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("provision").set_defaults(func=provision)
    sub.add_parser("forward").set_defaults(func=forward)
    r = sub.add_parser("replay")
    r.add_argument("--expect", choices=["accepted", "duplicate"])
    r.set_defaults(func=replay)
    sub.add_parser("tampered").set_defaults(func=tampered)
    sub.add_parser("parked").set_defaults(func=parked)
    args = parser.parse_args()
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
