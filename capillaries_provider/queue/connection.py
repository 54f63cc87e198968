"""Opening a confirmed channel to RabbitMQ, shared by publisher and consumer."""

from __future__ import annotations

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import (
    AMQPChannelError,
    AMQPConnectionError,
    AuthenticationError,
    ChannelClosedByBroker,
    ProbableAccessDeniedError,
    ProbableAuthenticationError,
)

from capillaries_provider.config import AmqpSettings
from capillaries_provider.queue.topology import QueueNames, declare_topology

# Errors after which a new connection may succeed: the broker went away or closed our channel (e.g. a consumer
# ack timeout, a deleted queue that the next declare recreates), or a publish was nacked. Access refused (403) is
# a configuration problem; a declare mismatch is raised as TopologyMismatchError and is not retried either.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    AMQPConnectionError,
    AMQPChannelError,  # includes NackError and UnroutableError
    ConnectionError,
    OSError,
)

RECONNECT_DELAYS_S: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)


def is_reconnectable(exc: BaseException) -> bool:
    """True when reopening the connection is the right reaction to `exc`."""
    if isinstance(exc, ChannelClosedByBroker) and exc.reply_code == 403:
        return False
    if isinstance(exc, AuthenticationError | ProbableAuthenticationError | ProbableAccessDeniedError):
        return False
    return isinstance(exc, CONNECTION_ERRORS)


def open_channel(settings: AmqpSettings) -> tuple[pika.BlockingConnection, BlockingChannel, QueueNames]:
    """Connect, declare the topology and put the channel in publisher-confirm mode."""
    params = pika.URLParameters(settings.url)
    params.blocked_connection_timeout = 300
    params.connection_attempts = 1
    connection = pika.BlockingConnection(params)
    try:
        channel = connection.channel()
        names = declare_topology(channel, settings.queue, settings.retry_delay_ms)
        channel.confirm_delivery()
    except BaseException:
        if connection.is_open:
            connection.close()
        raise
    return connection, channel, names
