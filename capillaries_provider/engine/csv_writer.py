"""CSV output of table_file nodes, byte-compatible with Capillaries' `file_inserter_csv.go` (spec 1.8).

Quirks kept because they change output bytes: the header line ends with `\\r\\n` while data lines end with `\\n`;
a header or value containing a comma is wrapped in double quotes with no escaping of inner quotes, whatever the
separator; formatting never fails (Go's `%!verb(type=value)` diagnostics land in the cell); decimals are printed
with `StringFixed(2)` and then given to the column format as a string; datetimes use the format as a Go layout.
Lines are written in chunks, so memory does not grow with the output.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from capillaries_provider.expr import gotime
from capillaries_provider.expr.godecimal import string_fixed
from capillaries_provider.expr.gofmt import sprintf
from capillaries_provider.expr.types import Value

if TYPE_CHECKING:
    from capillaries_provider.script.model import FileCreator

CHUNK_ROWS = 1000

_PADDED_S = re.compile(r"%(-?)([1-9][0-9]{0,5})s")
_CENT = Decimal("0.01")
_HALF_UP = Context(prec=1000, rounding=ROUND_HALF_UP)

Formatter = Callable[[Value], str]


def _quote_comma(text: str) -> str:
    return f'"{text}"' if "," in text else text


def format_csv_value(value: Value, fmt: str) -> str:
    """One output cell: Go's type switch (time.Time -> layout, decimal -> StringFixed(2) then Sprintf, else
    Sprintf), then the comma quoting."""
    if isinstance(value, _dt.datetime):
        text = gotime.format(value, fmt)
    elif isinstance(value, Decimal):
        text = sprintf(fmt, [fixed2(value)])
    else:
        text = sprintf(fmt, [value])
    return _quote_comma(text)


def fixed2(d: Decimal) -> str:
    """shopspring StringFixed(2) through a C-speed quantize (ROUND_HALF_UP is half away from zero); the
    shopspring port takes over for values too large for the context."""
    try:
        q = d.quantize(_CENT, context=_HALF_UP)
    except InvalidOperation:
        return string_fixed(d, 2)
    return str(q) if q else "0.00"  # exponent -2 always prints plain; shopspring has no negative zero


def make_formatter(fmt: str) -> Formatter:
    """`format_csv_value` for one column, with shortcuts for the verbs that dominate real outputs (`%s`, `%Ns`,
    `%-Ns`, `%d`, `%t`, decimals) and a cache for datetimes, which repeat a lot in table data."""

    @lru_cache(maxsize=4096)
    def format_time(t: _dt.datetime, tz: object, fold: int) -> str:
        return _quote_comma(gotime.format(t, fmt))

    def general(value: Value) -> str:
        if type(value) is _dt.datetime:
            return format_time(value, value.tzinfo, value.fold)  # equal instants in other zones print differently
        return format_csv_value(value, fmt)

    if fmt == "%s":

        def fmt_s(value: Value) -> str:
            if type(value) is str:
                return _quote_comma(value)
            if type(value) is Decimal:
                return fixed2(value)  # digits, sign and '.', never a comma
            return general(value)

        return fmt_s
    padded = _PADDED_S.fullmatch(fmt)
    if padded:
        width, left = int(padded.group(2)), padded.group(1) == "-"

        def fmt_ns(value: Value) -> str:
            # Go pads to a width counted in runes, i.e. Python characters.
            if type(value) is str:
                return _quote_comma(value.ljust(width) if left else value.rjust(width))
            if type(value) is Decimal:
                text = fixed2(value)
                return text.ljust(width) if left else text.rjust(width)
            return general(value)

        return fmt_ns
    if fmt == "%d":
        return lambda value: str(value) if type(value) is int else general(value)
    if fmt == "%t":
        return lambda value: ("true" if value else "false") if type(value) is bool else general(value)
    return general


def header_line(headers: Sequence[str], separator: str) -> str:
    """Headers joined by the separator, comma-quoted, ending with CRLF."""
    return separator.join(_quote_comma(h) for h in headers) + "\r\n"


class CsvFileWriter:
    """Writes the header at once, then rows; use as a context manager."""

    def __init__(self, path: str | Path, columns: Sequence[tuple[str, str]], separator: str = ",") -> None:
        """`columns` are `(csv.header, csv.format)` pairs in output order."""
        self._path = str(path)
        self._separator = separator
        self._formatters = [make_formatter(fmt) for _, fmt in columns]
        self._lines: list[str] = []
        self._file = open(self._path, "wb")  # noqa: SIM115 - closed by close()/__exit__
        try:
            self._write([header_line([h for h, _ in columns], separator)])
        except BaseException:
            self._file.close()
            raise

    @classmethod
    def for_creator(cls, path: str | Path, creator: FileCreator) -> CsvFileWriter:
        """A writer for a table_file node's `w`."""
        return cls(path, [(c.csv_header, c.csv_format) for c in creator.columns], creator.csv_separator)

    def _write(self, lines: list[str]) -> None:
        self._file.write("".join(lines).encode("utf-8", "surrogateescape"))

    def write_row(self, values: Sequence[Value]) -> None:
        """Format one row (values in column order); written out every CHUNK_ROWS rows."""
        cells = [f(v) for f, v in zip(self._formatters, values, strict=True)]
        self._lines.append(self._separator.join(cells) + "\n")
        if len(self._lines) >= CHUNK_ROWS:
            self.flush()

    def flush(self) -> None:
        if self._lines:
            self._write(self._lines)
            self._lines = []

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._file.close()

    def __enter__(self) -> CsvFileWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
