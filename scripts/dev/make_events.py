#!/usr/bin/env python3
"""Regenerates events/<function>/ from tests/fixtures/ and the local demo secrets (config/local/).

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


# Function (= directory under events/) -> the fixtures it is sent, as (provider, fixture name).
# Skilljar's COURSE_ENROLLMENT goes to both learner-created and milestone-completed: Ada's
# enrollment and her completions are one story across the two functions.
SAMPLES = {
    "learner-created": [
        ("skilljar", "course_enrollment"),
        ("skilljar", "domain_enrollment"),
        ("generic", "learner_created"),
    ],
    "milestone-completed": [
        ("skilljar", "course_enrollment"),
        ("skilljar", "path_enrollment"),
        ("skilljar", "lesson_completion"),
        ("skilljar", "quiz_completion"),
        ("skilljar", "course_completion"),
        ("skilljar", "path_completion"),
        ("generic", "milestone_completed"),
        ("generic", "task_created"),
        ("generic", "task_completed"),
    ],
    "note-added": [
        ("generic", "note_added"),
    ],
}


def main():
    basic = SECRETS["skilljar"]["basicAuth"]
    auth = "Basic " + base64.b64encode(f"{basic['username']}:{basic['password']}".encode()).decode()
    secret = SECRETS["generic"]["signingSecrets"][0]
    for function, fixtures in SAMPLES.items():
        out = ROOT / "events" / function
        out.mkdir(parents=True, exist_ok=True)
        for provider, name in fixtures:
            body = json.dumps(json.loads((ROOT / f"tests/fixtures/{provider}/{name}.json").read_text()))
            if provider == "skilljar":
                headers = {"authorization": auth}
            else:
                headers = {"x-webhook-signature": sign(body, TIMESTAMP, secret)}
            event = apigw(f"/{function}/{provider}", body, headers)
            (out / f"{provider}-{name.replace('_', '-')}.json").write_text(json.dumps(event, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
