"""CSV record tokenizer with Go `encoding/csv` semantics (`LazyQuotes = true`).

Capillaries reads CSV with Go's reader, and Python's `csv` module disagrees with it on bare quotes, text after a
closing quote, lone `\\r` and empty lines, so the tokenizer is hand-written after Go's `readRecord`:

- lines are split on `\\n` only; a trailing `\\r\\n` counts as `\\n`, a `\\r` right before end of file is dropped;
- lines that are empty (after that normalisation) are skipped, also inside the record stream;
- a field is quoted only if it *starts* with `"`; inside it `""` is a quote, `"` followed by the separator or the end
  of the line closes it, any other `"` is kept literally (LazyQuotes); it may span lines (newlines kept as `\\n`);
  a quoted field still open at end of file ends there;
- a quote inside an unquoted field is ordinary text;
- every record must have as many fields as the first one.

Records are produced one at a time from a binary line iterator, so memory is bounded by the longest record.
Bytes that are not valid UTF-8 survive as surrogate escapes, as Go keeps them as raw bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, BinaryIO

from capillaries_provider.engine.file_errors import FileReadError

_QUOTE = '"'


class CsvFormatError(FileReadError):
    """A CSV file that Go's reader rejects; the message names the file and the line."""

    def __init__(self, source: str, line: int, message: str) -> None:
        super().__init__(f"{source}: record on line {line}: {message}")
        self.source = source
        self.line = line


def separator_char(separator: str) -> str:
    """The separator rune Capillaries uses: only the first *byte* of the setting (default `,`).

    Go converts that byte to a rune, so a non-ASCII byte b becomes U+00b; the decoded line contains that character
    exactly where Go's `bytes.IndexRune` would find its UTF-8 encoding.
    """
    if not separator:
        return ","
    ch = chr(separator.encode("utf-8")[0])
    if ch in ("\x00", _QUOTE, "\r", "\n"):
        raise ValueError(f"csv: invalid field or comment delimiter {separator!r}")
    return ch


def _normalise(raw: bytes) -> str:
    """Go's `readLine`: `\\r\\n` -> `\\n`; a final `\\r` with no newline after it is dropped."""
    if raw.endswith(b"\r\n"):
        raw = raw[:-2] + b"\n"
    elif raw.endswith(b"\r"):
        raw = raw[:-1]
    return raw.decode("utf-8", "surrogateescape")


# Longest physical line read. A row is one Cassandra write, and Cassandra refuses a write larger than half a
# commit-log segment (16 MiB by default), so a longer line could never be stored; refusing it while reading keeps a
# worker's memory bounded by this limit rather than by the input (docs/reliability.md).
MAX_CSV_LINE_BYTES = 16 << 20


def iter_csv_file(
    path: str | Path | IO[bytes], separator: str = ",", source: str | None = None
) -> Iterator[tuple[int, list[str]]]:
    """Stream `(line_number, fields)` for every record of the file at `path`, or of an open binary stream (a remote
    file) named `source` in messages. Line numbers are 1-based and physical."""
    if not isinstance(path, str | Path):
        yield from iter_csv_records(_bounded_lines(path, source or "<stream>"), separator, source or "<stream>")
        return
    source = source or str(path)
    with open(path, "rb") as f:
        yield from iter_csv_records(_bounded_lines(f, source), separator, source)


def _bounded_lines(f: BinaryIO | IO[bytes], source: str) -> Iterator[bytes]:
    """The file's lines; a line longer than MAX_CSV_LINE_BYTES is an error naming it, read no further than that."""
    num_line = 0
    while raw := f.readline(MAX_CSV_LINE_BYTES + 1):
        num_line += 1
        if len(raw) > MAX_CSV_LINE_BYTES:
            raise CsvFormatError(source, num_line, f"line is longer than the limit of {MAX_CSV_LINE_BYTES:,} bytes")
        yield raw


def iter_csv_records(
    lines: Iterable[bytes], separator: str = ",", source: str = "<csv>"
) -> Iterator[tuple[int, list[str]]]:
    """Stream `(line_number, fields)` from binary lines (each ending in `\\n` except maybe the last).

    `line_number` is the physical line where the record starts, as in Go's error messages. Raises
    `CsvFormatError` when a record's field count differs from the first record's.
    """
    sep = separator_char(separator)
    it = iter(lines)
    state = _LineState(it)
    expected = -1
    for raw in it:
        state.num_line += 1
        line = _normalise(raw)
        if line == "\n" or not line:
            continue
        rec_line = state.num_line
        if _QUOTE in line:
            fields = _parse_quoted_record(line, sep, state)
        else:
            fields = (line[:-1] if line[-1] == "\n" else line).split(sep)
        if expected < 0:
            expected = len(fields)
        elif len(fields) != expected:
            raise CsvFormatError(source, rec_line, f"wrong number of fields (expected {expected}, got {len(fields)})")
        yield rec_line, fields


class _LineState:
    """The shared line iterator and physical line counter, so a quoted field can pull continuation lines."""

    __slots__ = ("it", "num_line")

    def __init__(self, it: Iterator[bytes]) -> None:
        self.it = it
        self.num_line = 0

    def next_line(self) -> str:
        """The next normalised line, or "" at end of file."""
        raw = next(self.it, None)
        self.num_line += 1
        return "" if raw is None else _normalise(raw)


def _parse_quoted_record(line: str, sep: str, state: _LineState) -> list[str]:
    """Go's `readRecord` field loop for a line that contains at least one quote."""
    fields: list[str] = []
    pos = 0
    while True:
        if pos >= len(line) or line[pos] != _QUOTE:
            i = line.find(sep, pos)
            if i >= 0:
                fields.append(line[pos:i])
                pos = i + 1
                continue
            end = len(line) - 1 if line.endswith("\n") else len(line)
            fields.append(line[pos:end])
            return fields
        # Quoted field.
        pos += 1
        parts: list[str] = []
        while True:
            i = line.find(_QUOTE, pos)
            if i >= 0:
                parts.append(line[pos:i])
                pos = i + 1
                rest = line[pos : pos + 1]
                if rest == _QUOTE:
                    parts.append(_QUOTE)
                    pos += 1
                elif rest == sep:
                    pos += 1
                    fields.append("".join(parts))
                    break
                elif pos == len(line) or line[pos:] == "\n":
                    fields.append("".join(parts))
                    return fields
                else:
                    parts.append(_QUOTE)  # bare quote, tolerated by LazyQuotes
            elif pos < len(line):
                parts.append(line[pos:])
                line = state.next_line()
                pos = 0
            else:
                fields.append("".join(parts))  # quoted field still open at end of file
                return fields
