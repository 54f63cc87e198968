"""Opening a confirmed channel to RabbitMQ, shared by publisher and consumer."""

from __future__ import annotations

import pika
from pika.adapters.blocking_connection import BlockingChannel

from capillaries_provider.config import AmqpSettings
from capillaries_provider.queue.topology import QueueNames, declare_topology


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
