"""The same ingest path as `learner-created`'s Skilljar route, written the way a Python team would
write it with Powertools for AWS Lambda: check the Basic credentials from the webhook secret,
normalise the delivery, then claim / enqueue / complete through Powertools' idempotency on the
DynamoDB persistence layer. Three AWS calls per new delivery (claim, SendMessage, complete), as in
the Rust function.

COMPARISON HARNESS ONLY: scripts/bench-ingest runs it under awslambdaric against the same Runtime
API stand-in and moto as the Rust binary. It is not product code and is never deployed.
"""

import base64
import hmac
import json
import os

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

# Built once per cold start, as Powertools' documentation shows.
logger = Logger(service=os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "learner-created-peer"))
persistence = DynamoDBPersistenceLayer(table_name=os.environ["TABLE_NAME"], key_attr="pk")
config = IdempotencyConfig(expires_after_seconds=7 * 24 * 3600)
sqs = boto3.client("sqs")
QUEUE_URL = os.environ["QUEUE_URL"]
SECRET_ID = os.environ["WEBHOOK_SECRET_ID"]


def answer(status, body):
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
    }


@idempotent_function(data_keyword_argument="delivery", config=config, persistence_store=persistence)
def enqueue(delivery):
    sqs.send_message(QueueUrl=QUEUE_URL, MessageBody=json.dumps(delivery))
    return {"status": "accepted", "event_id": delivery["event_id"]}


@logger.inject_lambda_context
def handler(event, context):
    config.register_lambda_context(context)
    headers = event.get("headers") or {}
    if "application/json" not in headers.get("content-type", ""):
        return answer(415, {"error": "unsupported_media_type"})
    # Cached for 5 minutes, like the Rust function's secret cache.
    secrets = parameters.get_secret(SECRET_ID, transform="json", max_age=300)
    basic = secrets["skilljar"]["basicAuth"]
    expected = "Basic " + base64.b64encode(f"{basic['username']}:{basic['password']}".encode()).decode()
    if not hmac.compare_digest(headers.get("authorization", ""), expected):
        return answer(401, {"error": "unauthorized"})
    try:
        body = json.loads(event.get("body") or "")
        user, course = body["user"], body["course"]
        delivery = {
            "event_id": f"skilljar:{body['event_type']}:{user['id']}:{course['id']}",
            "source": "skilljar",
            "occurred_at": body["timestamp"],
            "learner": {
                "id": user["id"],
                "email": user["email"].strip().lower(),
                "first_name": user.get("first_name"),
                "last_name": user.get("last_name"),
            },
            "course": {"id": course["id"], "title": course.get("title")},
        }
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        return answer(400, {"error": "invalid_payload", "detail": str(err)})
    result = enqueue(delivery=delivery)
    logger.info("delivery queued", extra={"event_id": delivery["event_id"]})
    return answer(202, result)
