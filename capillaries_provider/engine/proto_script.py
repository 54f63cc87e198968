"""A starter script from a sample CSV or Parquet file (Go's toolbelt `proto_file_reader_creator`, spec 8.2).

Column types are guessed as Go does (CSV: a regex per value over the first 100 records, generalised across rows;
Parquet: the reader's schema mapping), and the script is laid out byte for byte as Go's `json.Marshal` + `json.Indent`
prints it: a manual `read_file` (file_table) into a table named after the file and a `write_file` (table_file) that
writes it back. Go slips that make its script unusable are not reproduced (docs/compatibility.md): records
between the header and the first data line are skipped instead of ending the guess, the writer reads the table's
field names even when a header contains `col_`, and columns of a headerless file keep `col_000`... as table field
and output header (Go writes field `000` and an empty header, which neither Go nor this package can load).
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from capillaries_provider.engine.csv_records import iter_csv_file
from capillaries_provider.engine.file_errors import FileReadError
from capillaries_provider.engine.parquet_reader import guess_column_type, open_parquet, schema_columns
from capillaries_provider.expr.types import FieldType
from capillaries_provider.script.model import DataFormat

GO_IN_DIR = "/tmp/capi_in/proto_file_reader_creator_quicktest"
GO_OUT_DIR = "/tmp/capi_out/proto_file_reader_creator_quicktest"
MAX_GUESS_RECORDS = 100

_NON_ALNUM = re.compile(r"[^a-zA-Z0-9_]")
_DT = r"[0-9]{4}-[0-9]{2}-[0-9]{2}%s[0-9]{2}:[0-9]{2}:[0-9]{2}%s%s"
# (pattern, reader format) in Go's order; the 6-digit patterns get a 7-digit layout, as in Go.
_DATETIMES = tuple(
    (re.compile(_DT % (sep, frac, zone)), f"2006-01-02{sep}15:04:05{layout}{zone_layout}")
    for sep in ("T", " ")
    for zone, zone_layout in (("", ""), (r"[+-][0-9]{4}", "-0700"))
    for frac, layout in (("", ""), (r"\.[0-9]{3}", ".000"), (r"\.[0-9]{6}", ".0000000"))
)
_CSV_GUESSES = (
    (re.compile(r"[+-]?[0-9]*\.[0-9][0-9]"), FieldType.DECIMAL2, "%f"),
    (re.compile(r"[+-]?[0-9]+"), FieldType.INT, "%d"),
    (re.compile(r"[+-]?[0-9]*\.[0-9]+"), FieldType.FLOAT, "%f"),
)
_BOOL = re.compile(r"true|false|t|f")
_NUMERIC = (FieldType.INT, FieldType.DECIMAL2, FieldType.FLOAT)

# What the table_file writer uses per type ("reasonable defaults" in Go).
WRITER_FORMATS: Mapping[FieldType, str] = {
    FieldType.STRING: "%s",
    FieldType.INT: "%d",
    FieldType.FLOAT: "%.3f",
    FieldType.DECIMAL2: "%s",
    FieldType.DATETIME: "2006-01-02 15:04:05",
    FieldType.BOOL: "%t",
}

# Go's sc.DefaultPolicyCheckerConfJson, the policy every generated script carries: (cmd, run_is_current,
# run status condition, node status or "" for none).
_STARTED = "nrs.run_status == wfmodel.RunStart"
_LIVE = "(nrs.run_status == wfmodel.RunStart || nrs.run_status == wfmodel.RunNone)"
_DONE = "nrs.run_status == wfmodel.RunComplete"
_POLICY_RULES = (
    ("go", "true", _STARTED, "NodeBatchSuccess"),
    ("wait", "true", _LIVE, "NodeBatchNone"),
    ("wait", "true", _LIVE, "NodeBatchStart"),
    ("nogo", "true", _STARTED, "NodeBatchFail"),
    ("go", "false", _STARTED, "NodeBatchSuccess"),
    ("wait", "false", _LIVE, "NodeBatchNone"),
    ("wait", "false", _LIVE, "NodeBatchStart"),
    ("go", "false", _DONE, "NodeBatchSuccess"),
    ("nogo", "false", _DONE, "NodeBatchFail"),
    ("nogo", "false", "nrs.run_status == wfmodel.RunStop", ""),
)
DEFAULT_POLICY: Mapping[str, Any] = {
    "is_default": True,
    "event_priority_order": "run_is_current(desc), run_id(desc)",
    "rules": [
        {
            "cmd": cmd,
            "expression": f"nrs.run_is_current == {current} && {run}"
            + (f" && nrs.node_status == wfmodel.{node}" if node else ""),
        }
        for cmd, current, run, node in _POLICY_RULES
    ],
}


class ProtoScriptError(FileReadError):
    """A sample file no starter script can be made from; the message names the file (and column)."""


@dataclass(frozen=True)
class GuessedField:
    """One column of the sample: its header (or Parquet name), script column name, type and reader format."""

    header: str
    name: str
    type: FieldType
    format: str = ""

    @property
    def table_field(self) -> str:
        """`col_order_id` -> `order_id`; a headerless `col_000` keeps its name (Go's `000` is no identifier)."""
        return self.name.replace("col_", "", 1) if self.header else self.name

    @property
    def writer_header(self) -> str:
        """The CSV header of the copy; a headerless column gets its name (Go's empty header fails validation)."""
        return self.header or self.name


@dataclass(frozen=True)
class CsvLayout:
    """Go's `-csv_hdr_line_idx` (-1 = no header), `-csv_first_line_idx` and `-csv_separator`."""

    hdr_line_idx: int = -1
    first_data_line_idx: int = 0
    separator: str = ","

    def __post_init__(self) -> None:
        if self.hdr_line_idx >= self.first_data_line_idx:
            raise ValueError(
                f"the first data line ({self.first_data_line_idx}) must come after the header line"
                f" ({self.hdr_line_idx})"
            )
        if not self.separator:
            raise ValueError("the csv separator must not be empty")


def capi_name(header: str) -> str:
    return "col_" + _NON_ALNUM.sub("_", header)


def guess_csv_value(text: str) -> tuple[FieldType, str]:
    """Go's `guessCsvType`: the first matching type and the reader format it implies."""
    value = text.strip()
    for pattern, field_type, fmt in _CSV_GUESSES:
        if pattern.fullmatch(value):
            return field_type, fmt
    if _BOOL.fullmatch(value.lower()):
        return FieldType.BOOL, ""
    for pattern, layout in _DATETIMES:
        if pattern.fullmatch(value):
            return FieldType.DATETIME, layout
    return FieldType.STRING, ""


def generalise(current: FieldType | None, seen: FieldType) -> FieldType:
    """Go's generalize map: numbers widen int -> decimal2 -> float, any other disagreement is a string."""
    if current is None or current is seen:
        return seen
    if current in _NUMERIC and seen in _NUMERIC:
        return FieldType.FLOAT if FieldType.FLOAT in (current, seen) else FieldType.DECIMAL2
    return FieldType.STRING


def _records(path: Path, layout: CsvLayout) -> Iterator[tuple[int, list[str]]]:
    for idx, (_, fields) in enumerate(iter_csv_file(path, layout.separator)):
        if idx >= MAX_GUESS_RECORDS:
            return
        yield idx, fields


def guess_csv_fields(path: Path, layout: CsvLayout) -> list[GuessedField]:
    """Column names from the header (else `col_000`, `col_001`...), types generalised over the data records; the
    format is the one of the last value seen, as in Go."""
    headers: list[str] | None = None
    types: list[FieldType | None] = []
    formats: list[str] = []
    for idx, fields in _records(path, layout):
        if idx == layout.hdr_line_idx:
            headers = fields
        elif idx >= layout.first_data_line_idx:
            if not types:
                types, formats = [None] * len(fields), [""] * len(fields)
            for i, text in enumerate(fields):
                seen, formats[i] = guess_csv_value(text)
                types[i] = generalise(types[i], seen)
    if not types:
        raise ProtoScriptError(f"{path}: no data records from record index {layout.first_data_line_idx} on")
    names = headers if headers is not None else [""] * len(types)
    guessed = []
    for i, (header, field_type) in enumerate(zip(names, types, strict=True)):
        assert field_type is not None
        guessed.append(GuessedField(header, capi_name(header) if header else f"col_{i:03d}", field_type, formats[i]))
    return _unique(path, guessed)


def guess_parquet_fields(path: Path) -> list[GuessedField]:
    """Top-level columns typed by the Parquet reader's mapping; nested or unsupported columns are an error."""
    pf = open_parquet(path)
    columns = schema_columns(pf, str(path))
    nested = [n for n in pf.schema_arrow.names if n not in columns]
    if nested:
        raise ProtoScriptError(f"{path}: nested parquet column(s) not supported: {', '.join(nested)}")
    guessed = []
    for name in pf.schema_arrow.names:
        try:
            field_type = guess_column_type(columns[name]).field_type
        except FileReadError as e:
            raise ProtoScriptError(f"{path}: {e}") from e
        guessed.append(GuessedField(name, capi_name(name), field_type))
    return _unique(path, guessed)


def _unique(path: Path, guessed: list[GuessedField]) -> list[GuessedField]:
    seen: dict[str, str] = {}
    for g in guessed:
        if g.name in seen:
            raise ProtoScriptError(f"{path}: columns {seen[g.name]!r} and {g.header!r} both become {g.name}")
        seen[g.name] = g.header
    return guessed


def proto_script(
    file_name: str,
    file_format: DataFormat,
    fields: list[GuessedField],
    layout: CsvLayout | None = None,
    *,
    in_dir: str = GO_IN_DIR,
    out_dir: str = GO_OUT_DIR,
) -> str:
    """The script text, keys in Go's order (struct fields as declared, map keys sorted), no final newline."""
    src, tgt = posixpath.join(in_dir, file_name), posixpath.join(out_dir, file_name)
    table = _NON_ALNUM.sub("_", file_name)
    is_csv = file_format is DataFormat.CSV
    layout = (layout or CsvLayout()) if is_csv else None
    reader: dict[str, Any] = {"urls": [src]}
    if layout is not None:
        csv: dict[str, Any] = {"hdr_line_idx": layout.hdr_line_idx}
        if layout.first_data_line_idx:
            csv["first_data_line_idx"] = layout.first_data_line_idx
        csv["separator"] = layout.separator
        reader["csv"] = csv
    reader["columns"] = {g.name: _reader_column(g, i, is_csv) for i, g in sorted(enumerate(fields), key=_by_name)}
    creator: dict[str, Any] = {"name": table, "table_options": ""}
    if fields:
        creator["fields"] = {
            g.table_field: {"expression": f"r.{g.name}", "type": g.type.value} for g in sorted(fields, key=_name)
        }
    writer: dict[str, Any] = {"url_template": tgt}
    if layout is not None:
        writer["csv"] = {"separator": layout.separator}
    else:
        writer["parquet"] = {"codec": "gzip"}
    writer["columns"] = [_writer_column(g, is_csv) for g in fields]
    script = {
        "nodes": {
            "read_file": {
                "type": "file_table",
                "desc": f"Read file {src} to table",
                "start_policy": "manual",
                "r": Marshalled(reader),
                "w": Marshalled(creator),
            },
            "write_file": {
                "type": "table_file",
                "desc": f"Write from table to file {tgt}",
                "r": Marshalled({"table": table}),
                "w": Marshalled(writer),
            },
        },
        "dependency_policies": {"current_active_first_stopped_nogo": DEFAULT_POLICY},
    }
    return go_json(script)


def _name(g: GuessedField) -> str:
    return g.name


def _by_name(item: tuple[int, GuessedField]) -> str:
    return item[1].name


def _reader_column(g: GuessedField, idx: int, is_csv: bool) -> dict[str, Any]:
    if not is_csv:
        return {"col_type": g.type.value, "parquet": {"col_name": g.header}}
    settings: dict[str, Any] = {}
    if not g.header and idx:
        settings["col_idx"] = idx
    if g.header:
        settings["col_hdr"] = g.header
    if g.format:
        settings["col_format"] = g.format
    return {"col_type": g.type.value, "csv": settings}


def _writer_column(g: GuessedField, is_csv: bool) -> dict[str, Any]:
    column: dict[str, Any] = {"expression": f"r.{g.table_field}", "name": g.name, "type": g.type.value}
    if is_csv:
        column["csv"] = {"format": WRITER_FORMATS[g.type], "header": g.writer_header}
    else:
        column["parquet"] = {"column_name": g.header}
    return column


@dataclass(frozen=True)
class Marshalled:
    """A part Go builds with `json.Marshal` (HTML characters escaped), as opposed to text of its template."""

    value: Any


def go_json(value: Any, level: int = 0, html: bool = False) -> str:
    """Go's `json.Indent(..., "", " ")` of the template with its marshalled parts: one-space indent, `{}`/`[]` for
    empty containers, and `<`, `>`, `&`, U+2028/9 escaped inside `Marshalled` parts only."""
    if isinstance(value, Marshalled):
        return go_json(value.value, level, True)
    pad = "\n" + " " * (level + 1)
    if isinstance(value, dict):
        items = [f"{go_json(k, level + 1, html)}: {go_json(v, level + 1, html)}" for k, v in value.items()]
        return "{" + pad + ("," + pad).join(items) + "\n" + " " * level + "}" if items else "{}"
    if isinstance(value, list):
        items = [go_json(v, level + 1, html) for v in value]
        return "[" + pad + ("," + pad).join(items) + "\n" + " " * level + "]" if items else "[]"
    text = json.dumps(value, ensure_ascii=False)
    if html:
        for ch in "<>&\u2028\u2029":
            text = text.replace(ch, f"\\u{ord(ch):04x}")
    return text
