"""Fixtures for queue integration tests: a throw-away queue trio per test, deleted afterwards."""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import threading
import urllib.parse
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


class TcpProxy:
    """A local TCP forwarder to the broker whose connections a test can cut, to simulate the broker going away."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Abort every proxied connection (new ones are still accepted)."""
        with self.lock:
            sockets, self.sockets = self.sockets, []
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self.closed = True
        self.server.close()
        self.cut()


@pytest.fixture
def proxied(amqp: AmqpSettings) -> Iterator[tuple[AmqpSettings, TcpProxy]]:
    """Settings that reach the broker through a cuttable proxy (same queue names as `amqp`)."""
    parsed = urllib.parse.urlsplit(amqp.url)
    proxy = TcpProxy(parsed.hostname or "127.0.0.1", parsed.port or 5672)
    netloc = parsed.netloc.rsplit("@", 1)
    userinfo = netloc[0] + "@" if len(netloc) == 2 else ""
    url = urllib.parse.urlunsplit(parsed._replace(netloc=f"{userinfo}127.0.0.1:{proxy.port}"))
    yield dataclasses.replace(amqp, url=url), proxy
    proxy.close()
