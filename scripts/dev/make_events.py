#!/usr/bin/env python3
"""Regenerates events/ from tests/fixtures/ and the local demo secrets (config/local/).

The files are API Gateway HTTP API (payload v2) and SQS events, usable with
`cargo lambda invoke -A 127.0.0.1 <function> --data-file <file>`. Generic signed events carry a
signature for a fixed timestamp; scripts/run re-signs them at replay time (the window is 300 s).
"""
import base64, hashlib, hmac, json, pathlib, sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
SECRETS = json.loads((ROOT / "config/local/webhooks.json").read_text())
TIMESTAMP = 1763805600


def apigw(path, body, headers):
    base = {
        "accept": "*/*",
        "content-type": "application/json",
        "host": "local.execute-api.us-east-1.amazonaws.com",
        "user-agent": "skilljar" if "skilljar" in path else "zapier",
        "x-forwarded-proto": "https",
    }
    base.update(headers)
    return {
        "version": "2.0",
        "routeKey": "POST " + path,
        "rawPath": path,
        "rawQueryString": "",
        "headers": base,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "local.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "local",
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": base["user-agent"]},
            "requestId": "sample-" + hashlib.sha256(body.encode()).hexdigest()[:12],
            "routeKey": "POST " + path,
            "stage": "$default",
            "time": "22/Nov/2025:10:00:00 +0000",
            "timeEpoch": TIMESTAMP * 1000,
        },
        "body": body,
        "isBase64Encoded": False,
    }


def sign(body, ts, secret):
    mac = hmac.new(secret.encode(), f"{ts}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def main():
    basic = SECRETS["skilljar"]["basicAuth"]
    auth = "Basic " + base64.b64encode(f"{basic['username']}:{basic['password']}".encode()).decode()
    secret = SECRETS["generic"]["signingSecrets"][0]
    out = ROOT / "events"
    for name in ["course_enrollment", "domain_enrollment"]:
        body = json.dumps(json.loads((ROOT / f"tests/fixtures/skilljar/{name}.json").read_text()))
        event = apigw("/learner-created/skilljar", body, {"authorization": auth})
        (out / f"learner-created/skilljar-{name.replace('_', '-')}.json").write_text(json.dumps(event, indent=2) + "\n")
    body = json.dumps(json.loads((ROOT / "tests/fixtures/generic/learner_created.json").read_text()))
    event = apigw("/learner-created/generic", body, {"x-webhook-signature": sign(body, TIMESTAMP, secret)})
    (out / "learner-created/generic-learner-created.json").write_text(json.dumps(event, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
