"""Publishing batch messages with publisher confirms: a message counts as sent only once the broker has it.

Messages are persistent and mandatory, so a nack or an unroutable message is an error, never a silent loss. When
the connection drops, the publisher reconnects with back-off (`retry.BROKER_PUBLISH`) and re-sends the message it
was on; the consumer side is idempotent, so a duplicate (confirm lost after the broker stored the message) is
harmless. Bad credentials or TLS settings fail at once (`retry.PermanentError`).

A publisher may live as long as its process and sit idle between publishes. A blocking connection services its
heartbeats only when called, so the broker may have dropped an idle one: each `publish` first services the
connection, and one found dropped is reopened at once instead of costing a failed publish and a back-off.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from types import TracebackType

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import UnroutableError

from capillaries_provider.config import AmqpSettings
from capillaries_provider.engine.ports import BatchTask
from capillaries_provider.queue.connection import open_channel
from capillaries_provider.queue.message import encode, stamp
from capillaries_provider.queue.topology import EXCHANGE, QueueNames
from capillaries_provider.retry import BROKER_PUBLISH, RetryPolicy, amqp_permanent, amqp_transient, warn_each_retry

log = logging.getLogger(__name__)


class PublishError(RuntimeError):
    """The broker did not accept a message (nacked, unroutable, or unreachable after all reconnect attempts)."""


class Publisher:
    """A confirmed publishing channel; use as a context manager."""

    def __init__(self, settings: AmqpSettings, *, retry: RetryPolicy = BROKER_PUBLISH) -> None:
        self._settings = settings
        self._retry = retry
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._names: QueueNames | None = None

    @property
    def names(self) -> QueueNames:
        return self._ensure_open()[1]

    def publish(self, tasks: Iterable[BatchTask]) -> int:
        """Send batch messages to the work queue, each confirmed before the next; returns how many were sent.

        A task without a message id (not published before) gets its id and creation time here.
        """
        self._reopen_if_dropped()
        count = 0
        for task in tasks:
            msg = task if task.id else stamp(task)
            self.publish_body(self.names.work, encode(msg), message_id=msg.id)
            count += 1
        return count

    def publish_body(
        self,
        routing_key: str,
        body: bytes,
        *,
        headers: Mapping[str, object] | None = None,
        message_id: str | None = None,
    ) -> None:
        """Send one persistent, mandatory message through the `capillaries` exchange and wait for the confirm."""
        props = pika.BasicProperties(
            content_type="application/json",
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=message_id,
            headers=dict(headers) if headers else None,
        )
        attempts = 0

        def attempt() -> None:
            nonlocal attempts
            attempts += 1
            try:
                channel, _ = self._ensure_open()
                channel.basic_publish(EXCHANGE, routing_key, body, properties=props, mandatory=True)
            except UnroutableError as exc:
                raise PublishError(f"message to {routing_key!r} was unroutable (queue missing?)") from exc
            except Exception as exc:
                if amqp_transient(exc):  # includes a nack; the next attempt opens a new connection
                    self._drop_connection()
                raise

        try:
            self._retry.call(
                attempt,
                amqp_transient,
                permanent=amqp_permanent,
                on_retry=warn_each_retry(log, f"publish to {routing_key} failed"),
            )
        except Exception as exc:
            if not amqp_transient(exc):
                raise
            raise PublishError(f"could not publish to {routing_key!r} after {attempts} attempts: {exc}") from exc

    def close(self) -> None:
        if self._connection is not None and self._connection.is_open:
            self._connection.close()
        self._connection = self._channel = None

    def __enter__(self) -> Publisher:
        self._ensure_open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _ensure_open(self) -> tuple[BlockingChannel, QueueNames]:
        if self._channel is None or not self._channel.is_open or self._names is None:
            self._drop_connection()
            self._connection, self._channel, self._names = open_channel(self._settings)
        return self._channel, self._names

    def _reopen_if_dropped(self) -> None:
        """Service an open connection (sends due heartbeats, reads a close the broker sent while we were idle);
        if it turns out dropped, forget it so that the next publish opens a new one without a back-off."""
        if self._connection is None or not self._connection.is_open:
            return
        try:
            self._connection.process_data_events(time_limit=0)
        except Exception as exc:
            if not amqp_transient(exc):
                raise
            log.info("publisher connection was dropped while idle (%s); reopening", exc)
            self._drop_connection()

    def _drop_connection(self) -> None:
        try:
            self.close()
        except Exception:  # the connection is already broken; nothing to clean up on the broker side
            self._connection = self._channel = None
