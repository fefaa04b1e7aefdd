#!/usr/bin/env python3
"""Tries the template checks: breaks infra/template.yaml in one way at a time (each a small text
replacement), runs check_template.py on it, and expects it to fail; restores the template after.
A manual tool for whoever changes check_template.py (not part of scripts/test: its patterns follow
the template's text). Run from the repository root: python3 scripts/dev/check_template_mutations.py
"""
import subprocess, pathlib, sys
ROOT = pathlib.Path(__file__).resolve().parents[2]
T = ROOT / "infra/template.yaml"
orig = T.read_text()
muts = [
 ("wildcard dynamodb resource via Sub", "              Action: [dynamodb:PutItem]\n              Resource: !GetAtt SyncTable.Arn",
  "              Action: [dynamodb:PutItem]\n              Resource: !Sub \"arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/*\""),
 ("wildcard action", "Action: [sqs:SendMessage]", "Action: [sqs:*]"),
 ("plain * resource", "              Resource: !GetAtt SyncTable.Arn\n", "              Resource: \"*\"\n"),
 ("NotResource", "              Resource: !GetAtt SyncTable.Arn\n", "              NotResource: !GetAtt SyncTable.Arn\n"),
 ("managed data policy", "      Policies:\n        - Statement:", "      Policies:\n        - AmazonDynamoDBFullAccess\n        - Statement:"),
 ("SAM policy template", "      Policies:\n        - Statement:", "      Policies:\n        - DynamoDBCrudPolicy:\n            TableName: !Ref SyncTable\n        - Statement:"),
 ("secret policy * resource", "                Resource: !Ref\n                  Fn::Sub: GhlSecret${Location}", "                Resource: !Sub \"arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:*\""),
 ("ghl policy misses a role", "Roles: [!Ref SyncWorkerFunctionRole, !Ref BatchWorkerFunctionRole, !Ref DailyBatchFunctionRole]", "Roles: [!Ref SyncWorkerFunctionRole, !Ref BatchWorkerFunctionRole]"),
 ("ghl policy to ingest role", "Roles: [!Ref SyncWorkerFunctionRole,", "Roles: [!Ref LearnerCreatedFunctionRole, !Ref SyncWorkerFunctionRole,"),
 ("ghl policy without Put", "Action: [secretsmanager:GetSecretValue, secretsmanager:PutSecretValue]\n                Resource: !Ref", "Action: [secretsmanager:GetSecretValue]\n                Resource: !Ref"),
 ("GHL_SECRET_ID prefix wrong", '{Ids: !Join [",lms-ghl-sync/prod/ghl/"', '{Ids: !Join [",lms-ghl-sync/prd/ghl/"'),
 ("secret name changed", 'Name: !Sub "lms-ghl-sync/${Stage}/ghl/${Location}"', 'Name: !Sub "lms-ghl-sync-${Stage}/ghl/${Location}"'),
 ("architecture default x86", "    Default: arm64\n    AllowedValues: [arm64, x86_64]", "    Default: x86_64\n    AllowedValues: [arm64, x86_64]"),
 ("STAGE missing", "        STAGE: !Ref Stage\n", ""),
 ("unknown env", "        STAGE: !Ref Stage\n", "        STAGE: !Ref Stage\n        FOO: bar\n"),
 ("log group name mismatch", 'LogGroupName: !Sub "/aws/lambda/${AWS::StackName}-note-added"', 'LogGroupName: !Sub "/aws/lambda/${AWS::StackName}-notes"'),
 ("no retention", "      LogGroupName: !Sub \"/aws/lambda/${AWS::StackName}-ghl-events\"\n      RetentionInDays: !Ref LogRetentionDays\n", "      LogGroupName: !Sub \"/aws/lambda/${AWS::StackName}-ghl-events\"\n"),
 ("no LoggingConfig", "      LoggingConfig:\n        LogGroup: !Ref SyncWorkerLogGroup\n", ""),
 ("no PITR", "PointInTimeRecoveryEnabled: true", "PointInTimeRecoveryEnabled: false"),
 ("no TTL", "        AttributeName: expiration\n        Enabled: true", "        AttributeName: expiration\n        Enabled: false"),
 ("no max concurrency realtime", "            ScalingConfig:\n              MaximumConcurrency: !Ref RealtimeWorkerConcurrency\n", ""),
 ("bad http path", "Path: /note-added/generic", "Path: /notes/generic"),
 ("duplicate http path", "Path: /milestone-completed/generic", "Path: /milestone-completed/skilljar"),
 ("GET method", "            Method: POST\n            Path: /ghl-events/ghl", "            Method: GET\n            Path: /ghl-events/ghl"),
 ("DLQ alarm removed", "          Value: !GetAtt BatchDeadLetterQueue.QueueName", "          Value: !GetAtt BatchQueue.QueueName"),
 ("errors alarm off", "      MetricName: Errors\n      Dimensions:\n        - Name: FunctionName\n          Value: !Ref DailyBatchFunction", "      MetricName: Invocations\n      Dimensions:\n        - Name: FunctionName\n          Value: !Ref DailyBatchFunction"),
 ("throttles alarm off", "      MetricName: Throttles\n      Dimensions:\n        - Name: FunctionName\n          Value: !Ref GhlEventsFunction", "      MetricName: Throttles\n      Dimensions:\n        - Name: FunctionName\n          Value: !Ref NoteAddedFunction"),
 ("token alarm renamed metric", "MetricName: TokenRefreshFailures", "MetricName: TokenRefreshFailure"),
 ("overdue not breaching", "      TreatMissingData: breaching\n", "      TreatMissingData: notBreaching\n"),
 ("overdue wrong condition", "    Condition: HasBatchJob3\n    Properties:\n      AlarmName", "    Condition: HasBatchJob2\n    Properties:\n      AlarmName"),
 ("alarm without topic", "      AlarmActions: [!Ref AlarmTopic]\n", "      AlarmActions: []\n"),
 ("dashboard undocumented metric", 'MetricName=\\"EventsParked\\"', 'MetricName=\\"EventsDropped\\"'),
 ("!Sub of an unknown name", 'FunctionName: !Sub "${AWS::StackName}-note-added"', 'FunctionName: !Sub "${StackName}-note-added"'),
 ("dashboard body not JSON", '{"widgets": [\n', '{"widgets": [[\n'),
 ("overdue alarm too long", "      EvaluationPeriods: 26\n      DatapointsToAlarm: 26\n", "      EvaluationPeriods: 170\n      DatapointsToAlarm: 170\n"),
 ("no table stream", "      StreamSpecification:\n        StreamViewType: NEW_IMAGE\n", ""),
 ("pipe filter not the relay's", '"outbox":{"S":[{"exists":true}]}', '"outbox":{"S":[{"exists":false}]}'),
 ("pipe template not the relay's", 'InputTemplate: "<$.dynamodb.NewImage.outbox.S>"', 'InputTemplate: "<$.dynamodb.NewImage>"'),
 ("pipe without DLQ", "          DeadLetterConfig:\n            Arn: !GetAtt OutboxDeadLetterQueue.Arn\n", ""),
 ("pipe role cannot send", "                Resource: [!GetAtt RealtimeQueue.Arn, !GetAtt OutboxDeadLetterQueue.Arn]", "                Resource: [!GetAtt OutboxDeadLetterQueue.Arn]"),
 ("outbox DLQ alarm removed", "          Value: !GetAtt OutboxDeadLetterQueue.QueueName", "          Value: !GetAtt RealtimeQueue.QueueName"),
 ("ingest given QUEUE_URL", "          WEBHOOK_SECRET_ID: !Ref WebhookSecret\n", "          WEBHOOK_SECRET_ID: !Ref WebhookSecret\n          QUEUE_URL: !Ref RealtimeQueue\n"),
 ("alarm without Stage", "      MetricName: BatchRunsFailed\n      Dimensions:\n        - Name: Stage", "      MetricName: BatchRunsFailed\n      Dimensions:\n        - Name: Stag"),
]
bad = 0
try:
    for desc, old, new in muts:
        if old not in orig:
            print(f"!! {desc}: pattern not found"); bad += 1; continue
        T.write_text(orig.replace(old, new, 1))
        r = subprocess.run([sys.executable, str(ROOT / "scripts/dev/check_template.py")], capture_output=True, text=True)
        first = (r.stdout.strip().splitlines() or ["(no output)"])[0].replace("infra/template.yaml: ", "")
        print(f"{'ok' if r.returncode == 1 else '!! NOT CAUGHT'} {desc}: {first}")
        bad += r.returncode != 1
finally:
    T.write_text(orig)
print("uncaught:", bad)
sys.exit(1 if bad else 0)
