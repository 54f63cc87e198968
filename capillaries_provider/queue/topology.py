"""RabbitMQ topology (spec 4.2, adapted to AMQP 0-9-1): work queue, delayed-retry queue, parked queue.

```
 exchange "capillaries" (direct)
   <queue>         quorum; rejected messages dead-letter to <queue>.delay
   <queue>.delay   quorum; x-message-ttl = retry delay, then dead-letters back to <queue>
   <queue>.parked  quorum; undecodable messages / unknown run or node, with the reason in a header
```
Declaring is idempotent; declaring with different arguments (e.g. another retry delay) than an existing queue is
refused by the broker, which is reported as a TopologyMismatchError.
"""

from __future__ import annotations

from dataclasses import dataclass

from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import ChannelClosedByBroker

EXCHANGE = "capillaries"
PARK_REASON_HEADER = "x-capillaries-park-reason"
RETRY_COUNT_HEADER = "x-capillaries-retries"


class TopologyMismatchError(RuntimeError):
    """A queue or exchange exists with different settings than this process expects."""


@dataclass(frozen=True)
class QueueNames:
    work: str
    delay: str
    parked: str


def queue_names(queue: str) -> QueueNames:
    if not queue or len(queue) > 200:
        raise ValueError(f"invalid queue name {queue!r}")
    return QueueNames(work=queue, delay=f"{queue}.delay", parked=f"{queue}.parked")


def declare_topology(channel: BlockingChannel, queue: str, retry_delay_ms: int) -> QueueNames:
    """Declare exchange, queues and bindings; safe to call from every publisher and consumer at start."""
    if retry_delay_ms < 1:
        raise ValueError("retry_delay_ms must be positive")
    names = queue_names(queue)
    quorum = {"x-queue-type": "quorum"}
    try:
        channel.exchange_declare(EXCHANGE, exchange_type="direct", durable=True)
        channel.queue_declare(
            names.work,
            durable=True,
            arguments={
                **quorum,
                "x-dead-letter-exchange": EXCHANGE,
                "x-dead-letter-routing-key": names.delay,
            },
        )
        channel.queue_declare(
            names.delay,
            durable=True,
            arguments={
                **quorum,
                "x-message-ttl": retry_delay_ms,
                "x-dead-letter-exchange": EXCHANGE,
                "x-dead-letter-routing-key": names.work,
            },
        )
        channel.queue_declare(names.parked, durable=True, arguments=quorum)
    except ChannelClosedByBroker as exc:
        if exc.reply_code == 406:
            raise TopologyMismatchError(
                f"RabbitMQ refused to declare the {queue!r} queues as configured (retry delay {retry_delay_ms} ms):"
                f" {exc.reply_text}. Delete the queues or use the settings they were created with."
            ) from exc
        raise
    for name in (names.work, names.delay, names.parked):
        channel.queue_bind(name, EXCHANGE, routing_key=name)
    return names


def delete_topology(channel: BlockingChannel, queue: str) -> None:
    """Delete the three queues (tests, `capillaries` cleanup); the shared exchange is left in place."""
    names = queue_names(queue)
    for name in (names.work, names.delay, names.parked):
        channel.queue_delete(name)
