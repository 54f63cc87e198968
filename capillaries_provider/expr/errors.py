"""Errors raised while parsing, checking and evaluating Capillaries expressions.

Every error carries the expression text and a 0-based position so that the script layer can point at the exact
place in a field expression (`format()` renders a caret line under the text).
"""

from __future__ import annotations


class ExprError(Exception):
    """Base class: a problem with one expression, located at `pos` (0-based character offset) in `text`.

    `pos` is -1 when no single place is at fault (runtime errors): then no caret is drawn.
    """

    def __init__(self, message: str, text: str = "", pos: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.text = text
        self.pos = pos

    def format(self) -> str:
        """Message, then the expression and a caret under the offending character (multi-line text is flattened).

        A long expression is cut to the `_SHOWN` characters around the caret, so that an error stays readable.
        """
        flat = self.text.replace("\r", " ").replace("\n", " ").replace("\t", " ")
        if self.pos < 0:
            return f"{self.message}\n  {_cut(flat, 0)[0]}"
        shown, pos = _cut(flat, min(self.pos, len(flat)))
        return f"{self.message}\n  {shown}\n  {' ' * pos}^"

    def __str__(self) -> str:
        if not self.text:
            return self.message
        shown = _cut(self.text, max(self.pos, 0))[0]
        if self.pos < 0:
            return f"{self.message} (in expression {shown!r})"
        return f"{self.message} (at position {self.pos} in expression {shown!r})"


_SHOWN = 200


def _cut(flat: str, pos: int) -> tuple[str, int]:
    """At most `_SHOWN` characters of `flat` around `pos` (elided ends marked `...`) and `pos` within them."""
    if len(flat) <= _SHOWN:
        return flat, pos
    start = max(0, min(pos - _SHOWN // 2, len(flat) - _SHOWN))
    head = "..." if start else ""
    tail = "..." if start + _SHOWN < len(flat) else ""
    return f"{head}{flat[start : start + _SHOWN]}{tail}", pos - start + len(head)


class ExprSyntaxError(ExprError):
    """The text is not a valid expression of the supported Go subset."""


class ExprTypeError(ExprError):
    """The expression is well-formed but its operand types, names or argument counts are wrong."""


class ExprRuntimeError(ExprError):
    """Evaluation failed for concrete values (integer divide by zero, bad number text, bad time layout...)."""
