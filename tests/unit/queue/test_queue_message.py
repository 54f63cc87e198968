"""Batch message JSON (spec 4.1) and queue naming, without a broker."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from capillaries_provider.engine.ports import BatchTask
from capillaries_provider.queue.message import MessageDecodeError, decode, encode, stamp
from capillaries_provider.queue.topology import queue_names

GO_BODY = (
    b'{"ts":1700000000000,"id":"000004-0b6bd1b4-8a4e-4c39-9d8e-2f0a3d5e6f70","script_url":"https://x/s.json",'
    b'"script_params_url":"https://x/p.json","ks":"ks1","run_id":3,"target_node":"orders","first_token":'
    b'-1844674407370955168,"last_token":-9,"batch_idx":4,"batches_total":10}'
)


def test_go_body_decodes_to_a_task_and_round_trips_byte_for_byte() -> None:
    task = decode(GO_BODY)
    assert task == BatchTask(
        ks="ks1",
        run_id=3,
        target_node="orders",
        batch_idx=4,
        batches_total=10,
        first_token=-1844674407370955168,
        last_token=-9,
        script_url="https://x/s.json",
        script_params_url="https://x/p.json",
        id="000004-0b6bd1b4-8a4e-4c39-9d8e-2f0a3d5e6f70",
        ts_ms=1700000000000,
    )
    assert task.full_id == "ks1/3/orders/4"
    assert encode(task) == GO_BODY


def test_stamped_task_id_format() -> None:
    task = BatchTask("ks1", 1, "n", 12, 13, -(2**63), 2**63 - 1, "s", "")
    msg = stamp(task, ts_ms=5)
    assert re.fullmatch(r"000012-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", msg.id)
    assert msg.ts_ms == 5
    assert decode(encode(msg)) == msg
    assert stamp(task).id != msg.id


def test_unstamped_task_does_not_decode() -> None:
    with pytest.raises(MessageDecodeError, match="id is empty"):
        decode(encode(BatchTask("ks1", 1, "n", 0, 1, 0, 0, "s", "")))


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda d: d.pop("run_id"), "no 'run_id'"),
        (lambda d: d.update(run_id="3"), "'run_id' must be int"),
        (lambda d: d.update(batch_idx=True), "'batch_idx' must be int"),
        (lambda d: d.update(ks=1), "'ks' must be str"),
        (lambda d: d.update(batch_idx=10), "batch_idx 10 not in"),
        (lambda d: d.update(first_token=0, last_token=-1), "first_token 0 > last_token -1"),
        (lambda d: d.update(last_token=2**63), "last_token outside int64"),
        (lambda d: d.update(run_id=0), "run_id 0 < 1"),
        (lambda d: d.update(target_node=""), "target_node is empty"),
    ],
)
def test_invalid_messages_name_the_problem(mutate: Callable[[dict[str, Any]], object], error: str) -> None:
    data = json.loads(GO_BODY)
    mutate(data)
    with pytest.raises(MessageDecodeError, match=re.escape(error)):
        decode(json.dumps(data))


def test_non_json_and_non_object_bodies() -> None:
    with pytest.raises(MessageDecodeError, match="not JSON"):
        decode(b"\xff\xfe")
    with pytest.raises(MessageDecodeError, match="not JSON"):
        decode(b"{")
    with pytest.raises(MessageDecodeError, match="JSON object"):
        decode(b"[1]")


def test_unknown_fields_are_ignored() -> None:
    data = json.loads(GO_BODY)
    data["extra"] = 1
    assert decode(json.dumps(data)) == decode(GO_BODY)


def test_queue_names() -> None:
    names = queue_names("capillaries")
    assert (names.work, names.delay, names.parked) == ("capillaries", "capillaries.delay", "capillaries.parked")
    with pytest.raises(ValueError):
        queue_names("")
