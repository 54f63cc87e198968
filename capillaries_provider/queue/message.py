"""The batch message of spec 4.1: one JSON body per batch of every affected node.

Field names, order and the id format (`%06d` batch index + '-' + uuid4) are Capillaries', so a Go daemon could
consume what we publish. Decoding is strict: a message that is not exactly this shape is an error naming the
problem, which the consumer turns into a parked message instead of a silent drop.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, fields
from typing import Any

from capillaries_provider.expr.types import INT64_MAX, INT64_MIN


class MessageDecodeError(ValueError):
    """The body is not a valid batch message; the text says which field is wrong."""


@dataclass(frozen=True)
class BatchMessage:
    ts: int
    id: str
    script_url: str
    script_params_url: str
    ks: str
    run_id: int
    target_node: str
    first_token: int
    last_token: int
    batch_idx: int
    batches_total: int

    @classmethod
    def new(
        cls,
        *,
        script_url: str,
        script_params_url: str,
        ks: str,
        run_id: int,
        target_node: str,
        first_token: int,
        last_token: int,
        batch_idx: int,
        batches_total: int,
        ts_ms: int | None = None,
    ) -> BatchMessage:
        """A message with a fresh id and the creation time (ms since epoch, used only to log message age)."""
        return cls(
            ts=int(time.time() * 1000) if ts_ms is None else ts_ms,
            id=f"{batch_idx:06d}-{uuid.uuid4()}",
            script_url=script_url,
            script_params_url=script_params_url,
            ks=ks,
            run_id=run_id,
            target_node=target_node,
            first_token=first_token,
            last_token=last_token,
            batch_idx=batch_idx,
            batches_total=batches_total,
        )

    @property
    def full_id(self) -> str:
        """`ks/run/node/batch`, the id used in logs."""
        return f"{self.ks}/{self.run_id}/{self.target_node}/{self.batch_idx}"

    def to_json(self) -> bytes:
        """Compact JSON in Go's field order (json.Marshal of the Go struct)."""
        return json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, body: bytes | str) -> BatchMessage:
        """Parse and validate a message body; unknown extra fields are ignored, missing or mistyped ones are not."""
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MessageDecodeError(f"message body is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise MessageDecodeError(f"message body must be a JSON object, got {type(data).__name__}")
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data:
                raise MessageDecodeError(f"message has no {f.name!r}")
            v = data[f.name]
            expected = str if f.type == "str" else int
            if type(v) is not expected:
                raise MessageDecodeError(f"message field {f.name!r} must be {expected.__name__}, got {v!r}")
            values[f.name] = v
        msg = cls(**values)
        msg._validate()
        return msg

    def _validate(self) -> None:
        problems = []
        for name in ("first_token", "last_token", "ts"):
            if not INT64_MIN <= getattr(self, name) <= INT64_MAX:
                problems.append(f"{name} outside int64")
        if self.first_token > self.last_token:
            problems.append(f"first_token {self.first_token} > last_token {self.last_token}")
        if self.batches_total < 1 or not 0 <= self.batch_idx < self.batches_total:
            problems.append(f"batch_idx {self.batch_idx} not in [0, batches_total={self.batches_total})")
        if self.run_id < 1:
            problems.append(f"run_id {self.run_id} < 1")
        for name in ("ks", "target_node", "id"):
            if not getattr(self, name):
                problems.append(f"{name} is empty")
        if problems:
            raise MessageDecodeError("invalid batch message: " + "; ".join(problems))
