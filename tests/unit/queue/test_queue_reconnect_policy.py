"""Which AMQP errors make the publisher/consumer reconnect, and which stop them."""

from __future__ import annotations

from pika.exceptions import (
    AMQPConnectionError,
    ChannelClosedByBroker,
    ConnectionClosedByBroker,
    NackError,
    ProbableAuthenticationError,
    StreamLostError,
)

from capillaries_provider.queue.topology import TopologyMismatchError
from capillaries_provider.retry import amqp_transient as is_reconnectable


def test_reconnectable_errors() -> None:
    assert is_reconnectable(StreamLostError("lost"))
    assert is_reconnectable(AMQPConnectionError("refused"))
    assert is_reconnectable(ConnectionClosedByBroker(320, "CONNECTION_FORCED"))
    assert is_reconnectable(ChannelClosedByBroker(406, "delivery acknowledgement timed out"))
    assert is_reconnectable(NackError([]))
    assert is_reconnectable(ConnectionRefusedError())


def test_configuration_errors_are_not_retried() -> None:
    assert not is_reconnectable(ChannelClosedByBroker(403, "ACCESS_REFUSED"))
    assert not is_reconnectable(ProbableAuthenticationError("bad password"))
    assert not is_reconnectable(TopologyMismatchError("x-message-ttl differs"))
    assert not is_reconnectable(ValueError("bug"))
