"""Per-process script cache: every batch of a run names the same script, so load and validate it once.

Like Capillaries' cache (spec 9.2) an entry lives one minute, so an edited script is picked up soon; content
errors are cached briefly too (every batch of a broken script would fail the same way), fetch errors never are.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from capillaries_provider.script.errors import Problem, ScriptLoadError
from capillaries_provider.script.loader import load_script
from capillaries_provider.script.model import Script

TTL_S = 60.0
ERROR_TTL_S = 5.0
MAX_ENTRIES = 50


class ScriptCache:
    def __init__(
        self,
        loader: Callable[[str, str | None], Script] = load_script,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._loader = loader
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], tuple[float, Script | ScriptLoadError]] = OrderedDict()

    def __call__(self, script_url: str, params_url: str) -> Script:
        key = (script_url, params_url)
        now = self._clock()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            self._entries.move_to_end(key)
            value = hit[1]
        else:
            try:
                value = self._loader(script_url, params_url or None)
                expires = now + TTL_S
            except ScriptLoadError as exc:
                if exc.problem is Problem.CONNECTIVITY:
                    raise
                value, expires = exc, now + ERROR_TTL_S
            self._entries[key] = (expires, value)
            self._entries.move_to_end(key)
            while len(self._entries) > MAX_ENTRIES:
                self._entries.popitem(last=False)
        if isinstance(value, ScriptLoadError):
            raise value
        return value

    def peek(self, script_url: str, params_url: str) -> Script | None:
        """The script held for these URLs, expired or not, without loading anything: the metrics' node types."""
        hit = self._entries.get((script_url, params_url))
        return hit[1] if hit is not None and isinstance(hit[1], Script) else None
