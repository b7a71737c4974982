"""The queue service: SQS-semantics queues (QUEUE.*) and SNS-style topics (TOPIC.*), one key each."""
from services.queue import commands  # noqa: F401  (declares QUEUE.*)
from services.queue import topics  # noqa: F401,E402  (declares TOPIC.*)

import services as _services  # noqa: E402
from services.queue import sqs_http as _sqs_http  # noqa: E402
_services.HTTP_FACADES.append(_sqs_http.start)


def server_started(server):
    commands.server_started(server)
