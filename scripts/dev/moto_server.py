"""moto's server (`moto_server`, same flags), with DynamoDB requests handled one at a time.

DynamoDB applies a conditional write atomically. moto's threaded server does not: two requests'
condition checks and writes can interleave, and then two conditional updates both succeed where
DynamoDB would refuse one. Under load that gave the rate budget's test two equal slots. Holding
one lock around each DynamoDB request (and only those: SQS long polls must not hold up the rest)
gives the tests the store they are written against.
"""

import threading

from moto import server
from moto.moto_server import werkzeug_app

_dynamodb = threading.Lock()
_create = werkzeug_app.DomainDispatcherApplication


class SerialDynamoDB(_create):
    def __call__(self, environ, start_response):
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            return super().__call__(environ, start_response)
        with _dynamodb:
            # The body is produced inside the lock too: moto may do its work lazily.
            return list(super().__call__(environ, start_response))


server.DomainDispatcherApplication = SerialDynamoDB

if __name__ == "__main__":
    server.main()
