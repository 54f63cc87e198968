"""Batch message JSON (spec 4.1) and queue naming, without a broker."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from capillaries_provider.queue.message import BatchMessage, MessageDecodeError
from capillaries_provider.queue.topology import queue_names

GO_BODY = (
    b'{"ts":1700000000000,"id":"000004-0b6bd1b4-8a4e-4c39-9d8e-2f0a3d5e6f70","script_url":"https://x/s.json",'
    b'"script_params_url":"https://x/p.json","ks":"ks1","run_id":3,"target_node":"orders","first_token":'
    b'-1844674407370955168,"last_token":-9,"batch_idx":4,"batches_total":10}'
)


def test_go_body_round_trips_byte_for_byte() -> None:
    msg = BatchMessage.from_json(GO_BODY)
    assert (msg.run_id, msg.batch_idx, msg.first_token, msg.last_token) == (3, 4, -1844674407370955168, -9)
    assert msg.full_id == "ks1/3/orders/4"
    assert msg.to_json() == GO_BODY


def test_new_message_id_format() -> None:
    msg = BatchMessage.new(
        script_url="s",
        script_params_url="",
        ks="ks1",
        run_id=1,
        target_node="n",
        first_token=-(2**63),
        last_token=2**63 - 1,
        batch_idx=12,
        batches_total=13,
        ts_ms=5,
    )
    assert re.fullmatch(r"000012-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", msg.id)
    assert msg.ts == 5
    assert BatchMessage.from_json(msg.to_json()) == msg


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
        BatchMessage.from_json(json.dumps(data))


def test_non_json_and_non_object_bodies() -> None:
    with pytest.raises(MessageDecodeError, match="not JSON"):
        BatchMessage.from_json(b"\xff\xfe")
    with pytest.raises(MessageDecodeError, match="not JSON"):
        BatchMessage.from_json(b"{")
    with pytest.raises(MessageDecodeError, match="JSON object"):
        BatchMessage.from_json(b"[1]")


def test_unknown_fields_are_ignored() -> None:
    data = json.loads(GO_BODY)
    data["extra"] = 1
    assert BatchMessage.from_json(json.dumps(data)) == BatchMessage.from_json(GO_BODY)


def test_queue_names() -> None:
    names = queue_names("capillaries")
    assert (names.work, names.delay, names.parked) == ("capillaries", "capillaries.delay", "capillaries.parked")
    with pytest.raises(ValueError):
        queue_names("")
