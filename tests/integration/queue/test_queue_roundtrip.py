"""Publisher and consumer against a real RabbitMQ: confirms, ack, delayed retry, parking, redelivery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pika
import pytest

from capillaries_provider.config import AmqpSettings
from capillaries_provider.engine.ports import BatchTask
from capillaries_provider.queue.consumer import Consumer, HandlerResult
from capillaries_provider.queue.message import decode, stamp
from capillaries_provider.queue.publisher import Publisher
from capillaries_provider.queue.topology import PARK_REASON_HEADER, RETRY_COUNT_HEADER, queue_names
from capillaries_provider.retry import RetryPolicy

ReadyCount = Callable[[AmqpSettings, str], int]
GetOne = Callable[[AmqpSettings, str], tuple[pika.BasicProperties, bytes] | None]

pytestmark = pytest.mark.integration


def message(batch_idx: int, total: int = 3) -> BatchTask:
    return stamp(
        BatchTask(
            ks="ks1",
            run_id=1,
            target_node="read_orders",
            batch_idx=batch_idx,
            batches_total=total,
            first_token=batch_idx,
            last_token=batch_idx,
            script_url="file:///s.json",
            script_params_url="",
        )
    )


def run_consumer(
    settings: AmqpSettings, handler: Callable[[BatchTask], HandlerResult]
) -> tuple[Consumer, threading.Thread]:
    consumer = Consumer(settings, handler, poll_interval_s=0.1)
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    return consumer, thread


def wait_for(condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_publish_consume_ack(amqp: AmqpSettings, ready_count: ReadyCount) -> None:
    sent = [message(i) for i in range(3)]
    with Publisher(amqp) as pub:
        assert pub.publish(sent) == 3
    assert ready_count(amqp, amqp.queue) == 3
    received: list[BatchTask] = []
    consumer, thread = run_consumer(amqp, lambda m: (received.append(m), HandlerResult.ack())[1])
    wait_for(lambda: len(received) == 3)
    consumer.stop()
    thread.join(10)
    assert not thread.is_alive()
    assert sorted(received, key=lambda m: m.batch_idx) == sent
    assert ready_count(amqp, amqp.queue) == 0


def test_retry_later_comes_back_after_the_delay(amqp: AmqpSettings, ready_count: ReadyCount) -> None:
    with Publisher(amqp) as pub:
        pub.publish([message(0)])
    seen: list[float] = []

    def handler(m: BatchTask) -> HandlerResult:
        seen.append(time.monotonic())
        return HandlerResult.retry_later("dependencies not ready") if len(seen) == 1 else HandlerResult.ack()

    consumer, thread = run_consumer(amqp, handler)
    wait_for(lambda: len(seen) == 2)
    consumer.stop()
    thread.join(10)
    assert seen[1] - seen[0] >= amqp.retry_delay_ms / 1000 * 0.9
    names = queue_names(amqp.queue)
    assert ready_count(amqp, names.work) == 0 and ready_count(amqp, names.delay) == 0


def test_retry_header_counts_attempts(amqp: AmqpSettings, ready_count: ReadyCount, get_one: GetOne) -> None:
    with Publisher(amqp) as pub:
        pub.publish([message(1)])
    calls: list[int] = []

    def handler(m: BatchTask) -> HandlerResult:
        calls.append(m.batch_idx)
        consumer.stop()  # finish this message (re-publish to the delay queue, ack), then stop
        return HandlerResult.retry_later("wait")

    consumer = Consumer(amqp, handler, poll_interval_s=0.1)
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    thread.join(15)
    assert not thread.is_alive() and calls == [1]
    wait_for(lambda: ready_count(amqp, amqp.queue) == 1)
    got = get_one(amqp, amqp.queue)
    assert got is not None
    assert got[0].headers[RETRY_COUNT_HEADER] == 1
    assert decode(got[1]).batch_idx == 1


def test_undecodable_message_is_parked_with_reason(
    amqp: AmqpSettings, ready_count: ReadyCount, get_one: GetOne
) -> None:
    with Publisher(amqp) as pub:
        pub.publish_body(pub.names.work, b'{"ts": "yesterday"}', message_id="bad-1")
        pub.publish([message(2)])
    received: list[BatchTask] = []
    consumer, thread = run_consumer(amqp, lambda m: (received.append(m), HandlerResult.ack())[1])
    wait_for(lambda: len(received) == 1)
    consumer.stop()
    thread.join(10)
    parked = queue_names(amqp.queue).parked
    wait_for(lambda: ready_count(amqp, parked) == 1)
    got = get_one(amqp, parked)
    assert got is not None
    props, body = got
    assert body == b'{"ts": "yesterday"}'
    assert props.message_id == "bad-1"
    assert "undecodable message" in props.headers[PARK_REASON_HEADER]
    assert "'ts' must be int" in props.headers[PARK_REASON_HEADER]


def test_handler_park_and_handler_exception_are_parked(
    amqp: AmqpSettings, ready_count: ReadyCount, get_one: GetOne
) -> None:
    with Publisher(amqp) as pub:
        pub.publish([message(0), message(1)])

    def handler(m: BatchTask) -> HandlerResult:
        if m.batch_idx == 0:
            return HandlerResult.park("unknown node read_orders")
        raise RuntimeError("bug in processor")

    consumer, thread = run_consumer(amqp, handler)
    parked = queue_names(amqp.queue).parked
    wait_for(lambda: ready_count(amqp, parked) == 2)
    consumer.stop()
    thread.join(10)
    reasons = set()
    for _ in range(2):
        got = get_one(amqp, parked)
        assert got is not None
        reasons.add(got[0].headers[PARK_REASON_HEADER])
    assert reasons == {"unknown node read_orders", "handler raised RuntimeError: bug in processor"}


def test_stop_finishes_the_in_flight_message(amqp: AmqpSettings, ready_count: ReadyCount) -> None:
    with Publisher(amqp) as pub:
        pub.publish([message(0), message(1)])
    started = threading.Event()
    done: list[int] = []

    def handler(m: BatchTask) -> HandlerResult:
        started.set()
        time.sleep(1.0)
        done.append(m.batch_idx)
        return HandlerResult.ack()

    consumer, thread = run_consumer(amqp, handler)
    assert started.wait(10)
    consumer.stop()
    thread.join(10)
    assert not thread.is_alive()
    assert len(done) == 1
    # The finished message was acked, the other one is still waiting for a consumer.
    wait_for(lambda: ready_count(amqp, amqp.queue) == 1)


def test_consumer_killed_before_ack_gets_message_redelivered(amqp: AmqpSettings, tmp_path: Path) -> None:
    sent = message(0)
    with Publisher(amqp) as pub:
        pub.publish([sent])
    marker = tmp_path / "handling"
    script = textwrap.dedent(
        f"""
        import dataclasses, pathlib, time
        from capillaries_provider.config import amqp_settings
        from capillaries_provider.queue.consumer import Consumer
        settings = dataclasses.replace(amqp_settings(), queue={amqp.queue!r}, retry_delay_ms={amqp.retry_delay_ms})
        def handler(m):
            pathlib.Path({str(marker)!r}).write_text(m.id)
            time.sleep(600)
        Consumer(settings, handler).run()
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], env=dict(os.environ))
    try:
        wait_for(marker.exists, timeout_s=30)
        assert marker.read_text() == sent.id
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    received: list[BatchTask] = []
    consumer, thread = run_consumer(amqp, lambda m: (received.append(m), HandlerResult.ack())[1])
    wait_for(lambda: len(received) == 1)
    consumer.stop()
    thread.join(10)
    assert received == [sent]


def test_consumer_reconnects_and_gets_the_unacked_message_again(
    proxied: tuple[AmqpSettings, Any], ready_count: ReadyCount
) -> None:
    settings, proxy = proxied
    with Publisher(settings) as pub:
        pub.publish([message(0)])
    calls: list[str] = []

    def handler(m: BatchTask) -> HandlerResult:
        calls.append(m.id)
        if len(calls) == 1:
            proxy.cut()  # the broker "goes away" while the batch is processed: the ack cannot be sent
        return HandlerResult.ack()

    consumer = Consumer(
        settings, handler, poll_interval_s=0.1, retry=RetryPolicy("test", first_s=0.2, max_s=0.2, total_s=60.0)
    )
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    wait_for(lambda: len(calls) == 2)
    consumer.stop()
    thread.join(10)
    assert not thread.is_alive()
    assert calls[0] == calls[1]
    wait_for(lambda: ready_count(settings, settings.queue) == 0)


def test_publisher_reconnects_after_the_connection_drops(
    proxied: tuple[AmqpSettings, Any], ready_count: ReadyCount
) -> None:
    settings, proxy = proxied
    with Publisher(settings, retry=RetryPolicy("test", first_s=0.2, max_s=0.5, attempts=3)) as pub:
        pub.publish([message(0)])
        proxy.cut()
        pub.publish([message(1)])
    assert ready_count(settings, settings.queue) == 2
