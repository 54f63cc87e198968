"""Script loading errors.

A script is validated completely before anything runs, and every problem found is reported at once: an operator
fixing a script should not have to iterate error by error. Each `ScriptError` names the place (file, node, key
path) and, for expressions, carries the expression text with a caret under the offending token.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from capillaries_provider.expr.errors import ExprError


class Problem(enum.Enum):
    """Capillaries' problem classes; the daemon acks content/param problems and retries connectivity problems."""

    PARAMS = "params"  # bad parameter placement or values (Go: "URL problem")
    CONTENT = "content"  # parse or validation failure
    CONNECTIVITY = "connectivity"  # the file could not be fetched


@dataclass(frozen=True)
class ScriptError:
    """One problem in a script, located as precisely as the layer that found it can."""

    message: str
    file: str = ""
    node: str | None = None
    key: str | None = None
    detail: str | None = None  # e.g. expression text + caret line
    problem: Problem = Problem.CONTENT

    def __str__(self) -> str:
        where = [p for p in (self.file, f"node {self.node}" if self.node else "", self.key or "") if p]
        text = f"{': '.join(where)}: {self.message}" if where else self.message
        if self.detail:
            text += "\n" + "\n".join("    " + line for line in self.detail.splitlines())
        return text


def caret_detail(text: str, pos: int) -> str:
    """The expression text and a caret line under character `pos` (as the expression layer renders them)."""
    return ExprError("", text, pos).format().split("\n", 1)[1]


class ScriptLoadError(Exception):
    """Base class of everything the loader raises."""

    problem: Problem = Problem.CONTENT


class ScriptValidationError(ScriptLoadError):
    """The script (or its params) is wrong; `errors` lists every problem found."""

    def __init__(self, errors: Sequence[ScriptError]) -> None:
        self.errors: tuple[ScriptError, ...] = tuple(errors)
        super().__init__(self._text())

    @property
    def problem(self) -> Problem:  # type: ignore[override]
        """PARAMS when any error is a param problem (Go stops there), else CONTENT."""
        if any(e.problem is Problem.PARAMS for e in self.errors):
            return Problem.PARAMS
        return Problem.CONTENT

    def _text(self) -> str:
        n = len(self.errors)
        head = f"script has {n} error{'s' if n != 1 else ''}:"
        return "\n".join([head, *(f"- {e}" for e in self.errors)])


class ScriptFetchError(ScriptLoadError):
    """A script, params or referenced file could not be read; worth retrying later."""

    problem = Problem.CONNECTIVITY
