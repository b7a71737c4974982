"""The queue service: SQS-semantics queues (QUEUE.*) and SNS-style topics (TOPIC.*), one key each."""
from services.queue import commands  # noqa: F401  (declares QUEUE.*)
from services.queue import topics  # noqa: F401,E402  (declares TOPIC.*)
