"""Consuming batch messages one at a time; a message is acknowledged only after its handler returned.

The handler says what happens to the message:
- ACK: done (possibly after recording a failure in Cassandra);
- RETRY_LATER: not ready (dependencies running) or a transient error. The message is re-published, with confirm,
  to `<queue>.delay`, and only then acked; the delay queue's TTL dead-letters it back to the work queue. Publishing
  before acking means a crash in between duplicates the message instead of losing it (processing is idempotent);
- PARK(reason): the message can never be processed (undecodable, unknown run/node). It is re-published to
  `<queue>.parked` with the reason in a header, then acked — kept for inspection, never silently dropped.

The handler runs in a helper thread while this thread keeps the AMQP connection serviced (heartbeats), so a long
batch does not get the connection closed under it. If the broker goes away the consumer reconnects with back-off
(`retry.BROKER_RECONNECT`: it gives up after an outage of `retry.WORKER_OUTAGE_S`); an unacknowledged message is
redelivered by the broker. Bad credentials or TLS settings fail at once (`retry.PermanentError`). `stop()`
(signal-safe) lets the in-flight message finish, including its ack, and then returns from `run()`.
"""

from __future__ import annotations

import enum
import logging
import signal
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from types import FrameType

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties

from capillaries_provider.config import AmqpSettings
from capillaries_provider.engine.ports import BatchTask
from capillaries_provider.queue.connection import open_channel
from capillaries_provider.queue.message import MessageDecodeError, decode
from capillaries_provider.queue.topology import EXCHANGE, PARK_REASON_HEADER, RETRY_COUNT_HEADER, QueueNames
from capillaries_provider.retry import (
    BROKER_RECONNECT,
    Interrupted,
    RetryPolicy,
    amqp_permanent,
    amqp_transient,
    interruptible,
    warn_each_retry,
)
from capillaries_provider.stop_flag import StopFlag

log = logging.getLogger(__name__)

RETRY_REASON_HEADER = "x-capillaries-retry-reason"


class Outcome(enum.Enum):
    ACK = "ack"
    RETRY_LATER = "retry_later"
    PARK = "park"


@dataclass(frozen=True)
class HandlerResult:
    outcome: Outcome
    reason: str = ""

    @classmethod
    def ack(cls) -> HandlerResult:
        return cls(Outcome.ACK)

    @classmethod
    def retry_later(cls, reason: str = "") -> HandlerResult:
        return cls(Outcome.RETRY_LATER, reason)

    @classmethod
    def park(cls, reason: str) -> HandlerResult:
        return cls(Outcome.PARK, reason)


Handler = Callable[[BatchTask], HandlerResult]
RedeliveryListener = Callable[[BatchTask], None]


class Consumer:
    """Consumes the work queue with prefetch 1 until `stop()` is called.

    `on_redelivery` hears of each message the broker delivers again (its consumer went away before the ack),
    after the handler returned, so that the listener can use what the handler loaded.
    """

    def __init__(
        self,
        settings: AmqpSettings,
        handler: Handler,
        *,
        retry: RetryPolicy = BROKER_RECONNECT,
        poll_interval_s: float = 0.5,
        on_redelivery: RedeliveryListener = lambda task: None,
    ) -> None:
        self._settings = settings
        self._handler = handler
        self._on_redelivery = on_redelivery
        self._retry = retry
        self._poll = poll_interval_s
        self._stop = StopFlag()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="capillaries-handler")

    def stop(self) -> None:
        """Ask `run()` to return after the in-flight message (if any) is finished; safe from signal handlers."""
        self._stop.request()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        """Consume until stopped, reconnecting with back-off whenever the broker connection is lost.

        Opening the connection is retried under the policy, which starts afresh after every connection that
        was opened, so only a continuous outage ends the loop: with the broker's last error, or PermanentError
        for one that retrying cannot fix.
        """
        sleep = interruptible(self._stop)
        try:
            while not self._stop.is_set():
                connection, channel, names = self._retry.call(
                    lambda: open_channel(self._settings),
                    amqp_transient,
                    permanent=amqp_permanent,
                    on_retry=warn_each_retry(log, "RabbitMQ connection lost"),
                    sleep=sleep,
                )
                try:
                    self._consume_until_stopped(connection, channel, names)
                except Exception as exc:
                    if not amqp_transient(exc):
                        raise
                    delay = self._retry.first_s
                    log.warning("RabbitMQ connection lost (%s); reconnecting in %.1f s", exc, delay)
                    sleep(delay)
        except Interrupted:
            pass  # stopped while waiting to reconnect
        finally:
            self._executor.shutdown(wait=True)

    def _consume_until_stopped(
        self, connection: pika.BlockingConnection, channel: BlockingChannel, names: QueueNames
    ) -> None:
        try:
            channel.basic_qos(prefetch_count=1)
            for method, props, body in channel.consume(names.work, inactivity_timeout=self._poll):
                if method is not None:
                    self._process(connection, channel, names, method, props, body)
                if self._stop.is_set():
                    break
            channel.cancel()  # requeues anything delivered but not yet handed to us
        finally:
            if connection.is_open:
                connection.close()

    def _process(
        self,
        connection: pika.BlockingConnection,
        channel: BlockingChannel,
        names: QueueNames,
        method: Basic.Deliver,
        props: BasicProperties,
        body: bytes,
    ) -> None:
        result = self._decide(connection, body, redelivered=bool(method.redelivered))
        headers = dict(props.headers or {})
        if result.outcome is Outcome.RETRY_LATER:
            headers[RETRY_COUNT_HEADER] = int(headers.get(RETRY_COUNT_HEADER, 0)) + 1
            headers[RETRY_REASON_HEADER] = result.reason
            self._republish(channel, names.delay, body, props, headers)
        elif result.outcome is Outcome.PARK:
            headers[PARK_REASON_HEADER] = result.reason
            log.error("parking message %s: %s", props.message_id, result.reason)
            self._republish(channel, names.parked, body, props, headers)
        channel.basic_ack(method.delivery_tag)

    def _decide(self, connection: pika.BlockingConnection, body: bytes, *, redelivered: bool) -> HandlerResult:
        try:
            task = decode(body)
        except MessageDecodeError as exc:
            return HandlerResult.park(f"undecodable message: {exc}")
        future = self._executor.submit(self._handler, task)
        self._service_connection_until_done(connection, future)
        if redelivered:
            self._on_redelivery(task)
        try:
            result = future.result()
        except Exception as exc:
            log.exception("handler failed on %s", task.full_id)
            return HandlerResult.park(f"handler raised {type(exc).__name__}: {exc}")
        if not isinstance(result, HandlerResult):
            return HandlerResult.park(f"handler returned {result!r} instead of a HandlerResult")
        return result

    def _service_connection_until_done(
        self, connection: pika.BlockingConnection, future: Future[HandlerResult]
    ) -> None:
        """Keep heartbeats flowing while the handler works; if the connection breaks, still let the handler end."""
        try:
            while not future.done():
                connection.process_data_events(time_limit=min(self._poll, 0.2))
        except BaseException:
            future.exception()  # wait: the handler's writes must not overlap a redelivered copy in this process
            raise

    @staticmethod
    def _republish(
        channel: BlockingChannel, queue: str, body: bytes, props: BasicProperties, headers: dict[str, object]
    ) -> None:
        channel.basic_publish(
            EXCHANGE,
            queue,
            body,
            properties=pika.BasicProperties(
                content_type=props.content_type,
                delivery_mode=pika.DeliveryMode.Persistent,
                message_id=props.message_id,
                headers=headers,
            ),
            mandatory=True,
        )


def stop_on_signals(consumer: Consumer, signals: Iterable[int] = (signal.SIGTERM, signal.SIGINT)) -> None:
    """Install handlers (main thread only) that stop the consumer gracefully on SIGTERM/SIGINT."""

    def handle(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d received: finishing the current message, then stopping", signum)
        consumer.stop()

    for s in signals:
        signal.signal(s, handle)
