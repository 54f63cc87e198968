"""Loaded scripts memoised on file identity, shared by the DAG factory (parse time) and the tasks (run time).

The dag-processor re-parses DAG files every 30 s and every task start parses its DAG file again; re-validating an
unchanged script each time would be wasted work, so the `Script` is kept until the file's size or mtime changes.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from capillaries_provider.script.loader import load_script
from capillaries_provider.script.model import Script

log = logging.getLogger(__name__)

_CACHE: dict[tuple[str, str], tuple[tuple[Any, ...], Script]] = {}


def _file_key(path: str) -> tuple[Any, ...]:
    if not path:
        return ()
    st = os.stat(path)
    return (st.st_size, st.st_mtime_ns)


def load_script_cached(script_path: str, params_path: str | None = None) -> Script:
    """`load_script` that returns the previous result while neither file changed."""
    cache_key = (script_path, params_path or "")
    key = (_file_key(script_path), _file_key(params_path or ""))
    hit = _CACHE.get(cache_key)
    if hit is not None and hit[0] == key:
        return hit[1]
    started = time.monotonic()
    script = load_script(script_path, params_path or None)
    log.debug("loaded Capillaries script %s in %.3f s", script_path, time.monotonic() - started)
    _CACHE[cache_key] = (key, script)
    return script
