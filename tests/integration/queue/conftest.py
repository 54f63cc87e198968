"""Fixtures for queue integration tests: a throw-away queue trio per test, deleted afterwards."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator

import pika
import pytest

from capillaries_provider.config import AmqpSettings, amqp_settings
from capillaries_provider.queue.topology import delete_topology


@pytest.fixture
def amqp() -> Iterator[AmqpSettings]:
    settings = dataclasses.replace(amqp_settings(), queue=f"test_q_{uuid.uuid4().hex[:12]}", retry_delay_ms=400)
    yield settings
    connection = pika.BlockingConnection(pika.URLParameters(settings.url))
    try:
        delete_topology(connection.channel(), settings.queue)
    finally:
        connection.close()


def _ready_count(settings: AmqpSettings, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(settings.url))
    try:
        return int(connection.channel().queue_declare(queue, passive=True).method.message_count)
    finally:
        connection.close()


def _get_one(settings: AmqpSettings, queue: str) -> tuple[pika.BasicProperties, bytes] | None:
    connection = pika.BlockingConnection(pika.URLParameters(settings.url))
    try:
        channel = connection.channel()
        method, props, body = channel.basic_get(queue, auto_ack=True)
        return None if method is None else (props, body)
    finally:
        connection.close()


@pytest.fixture
def ready_count() -> Callable[[AmqpSettings, str], int]:
    """Number of ready messages in a queue."""
    return _ready_count


@pytest.fixture
def get_one() -> Callable[[AmqpSettings, str], tuple[pika.BasicProperties, bytes] | None]:
    """Take one message off a queue (auto-ack), or None if it is empty."""
    return _get_one
