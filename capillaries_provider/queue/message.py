"""The batch message of spec 4.1: the JSON body of one engine `BatchTask`, one per batch of every affected node.

The engine's task is the message itself (no second message type to copy fields into); this module is only its
wire format. Field names, order and the id format (`%06d` batch index + '-' + uuid4) are Capillaries', so a Go
daemon could consume what we publish. Decoding is strict: a message that is not exactly this shape is an error
naming the problem, which the consumer turns into a parked message instead of a silent drop.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from typing import Any

from capillaries_provider.engine.ports import BatchTask
from capillaries_provider.expr.types import INT64_MAX, INT64_MIN

# (JSON name, BatchTask attribute, type) in the Go struct's field order, which json.Marshal follows.
WIRE_FIELDS: tuple[tuple[str, str, type], ...] = (
    ("ts", "ts_ms", int),
    ("id", "id", str),
    ("script_url", "script_url", str),
    ("script_params_url", "script_params_url", str),
    ("ks", "ks", str),
    ("run_id", "run_id", int),
    ("target_node", "target_node", str),
    ("first_token", "first_token", int),
    ("last_token", "last_token", int),
    ("batch_idx", "batch_idx", int),
    ("batches_total", "batches_total", int),
)


class MessageDecodeError(ValueError):
    """The body is not a valid batch message; the text says which field is wrong."""


def stamp(task: BatchTask, *, ts_ms: int | None = None) -> BatchTask:
    """The task as a new message: a fresh id and the creation time (ms since epoch, used only to log message age)."""
    return dataclasses.replace(
        task,
        id=f"{task.batch_idx:06d}-{uuid.uuid4()}",
        ts_ms=int(time.time() * 1000) if ts_ms is None else ts_ms,
    )


def encode(task: BatchTask) -> bytes:
    """Compact JSON in Go's field order (json.Marshal of the Go struct)."""
    body = {name: getattr(task, attr) for name, attr, _ in WIRE_FIELDS}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def decode(body: bytes | str) -> BatchTask:
    """Parse and validate a message body; unknown extra fields are ignored, missing or mistyped ones are not."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MessageDecodeError(f"message body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MessageDecodeError(f"message body must be a JSON object, got {type(data).__name__}")
    values: dict[str, Any] = {}
    for name, attr, expected in WIRE_FIELDS:
        if name not in data:
            raise MessageDecodeError(f"message has no {name!r}")
        v = data[name]
        if type(v) is not expected:
            raise MessageDecodeError(f"message field {name!r} must be {expected.__name__}, got {v!r}")
        values[attr] = v
    task = BatchTask(**values)
    _validate(task)
    return task


def _validate(task: BatchTask) -> None:
    problems = []
    for name, attr in (("first_token", "first_token"), ("last_token", "last_token"), ("ts", "ts_ms")):
        if not INT64_MIN <= getattr(task, attr) <= INT64_MAX:
            problems.append(f"{name} outside int64")
    if task.first_token > task.last_token:
        problems.append(f"first_token {task.first_token} > last_token {task.last_token}")
    if task.batches_total < 1 or not 0 <= task.batch_idx < task.batches_total:
        problems.append(f"batch_idx {task.batch_idx} not in [0, batches_total={task.batches_total})")
    if task.run_id < 1:
        problems.append(f"run_id {task.run_id} < 1")
    for name in ("ks", "target_node", "id"):
        if not getattr(task, name):
            problems.append(f"{name} is empty")
    if problems:
        raise MessageDecodeError("invalid batch message: " + "; ".join(problems))
