"""Structured log lines (one JSON object per line), with the batch ids Capillaries logs: ks, run, node, bi."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys

BATCH_FIELDS = ("ks", "run", "node", "bi", "id", "outcome", "elapsed_s")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "l": record.levelname.lower(),
            "pid": os.getpid(),
            "f": record.name,
            "m": record.getMessage(),
        }
        for key in BATCH_FIELDS:
            if key in record.__dict__:
                line[key] = record.__dict__[key]
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def setup(level: str = "INFO") -> None:
    """Route every logger of the process to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The driver and pika are chatty at INFO.
    for noisy in ("cassandra", "pika"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
