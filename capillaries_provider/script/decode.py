"""Per-node deserialisation (first step of spec 1.12): JSON tree -> model objects, collecting every error.

Rules that only need one node (types, defaults, ranges, names, expression syntax, index/order syntax) live here;
rules that relate nodes to each other live in validate.py. Parts that cannot be built are left as None so that
validation can go on with the rest of the script without cascading errors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from capillaries_provider.expr.ast import Call, Ident, Selector, field_refs, unparen
from capillaries_provider.expr.errors import ExprError
from capillaries_provider.expr.keys import KeyComponent
from capillaries_provider.expr.parser import parse
from capillaries_provider.expr.types import FieldType
from capillaries_provider.script.defaults import parse_default_value
from capillaries_provider.script.document import get_key, is_missing
from capillaries_provider.script.errors import ScriptError, caret_detail
from capillaries_provider.script.keydefs import KeyDefError, parse_index_def, parse_order
from capillaries_provider.script.model import (
    NRS_FIELDS,
    TOP_LIMIT_MAX,
    CalculatedField,
    CsvColumnSettings,
    CsvReaderSettings,
    CustomProcessorDef,
    DataFormat,
    DependencyCmd,
    DependencyPolicy,
    DependencyRule,
    Expression,
    FileColumn,
    FileCreator,
    FileReader,
    FileReaderColumn,
    IndexDef,
    JoinType,
    Lookup,
    Node,
    NodeType,
    PluginProcessorDef,
    PyCalcDef,
    RerunPolicy,
    Script,
    StartPolicy,
    TableCreator,
    TableField,
    TableReader,
    TagAndDenormalizeDef,
    TopDef,
)
from capillaries_provider.script.names import identifier_problem
from capillaries_provider.script.plugins import CustomProcessorType, PluginError, available_types, processor_type
from capillaries_provider.storage.urls import READ_SCHEMES, WRITE_SCHEMES, scheme_problem

MAX_BATCHES_TOTAL = 32767  # batch_idx is an int16 in Capillaries' state tables (spec 1.4 quirk)
MAX_ROWSET_SIZE = 100_000
MAX_LOOKUP_READ_BATCH = 20_000
MAX_NAME_LEN = 42
PARQUET_CODECS = ("gzip", "snappy", "uncompressed")

_TABLE_NAME_RESERVED = re.compile(r"^idx|^wf|^system")
_INDEX_NAME = re.compile(r"idx[A-Za-z0-9_]+")
_PY_CALC_TOP = (Call, Selector)


_KIND_NAMES: Mapping[type, str] = {str: "string", int: "integer", bool: "bool", dict: "object", list: "array"}


def _json_kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object" if isinstance(v, dict) else "null"


@dataclass
class DecodeGaps:
    """Parts that failed to decode (already reported): validation skips checks that would only echo them."""

    indexes: dict[str, str] = field(default_factory=dict)  # broken index name -> table that owns it
    lookups: dict[str, str] = field(default_factory=dict)  # node with a broken lookup -> index name it names
    processors: set[str] = field(default_factory=set)  # nodes whose custom processor is broken
    # field lists that lost entries (bad type, missing expression...): references to the lost names are not
    # reported again as "unknown field"
    tables: set[str] = field(default_factory=set)  # tables (incl. those of undecodable nodes)
    readers: set[str] = field(default_factory=set)  # nodes whose file reader columns are incomplete
    processor_fields: set[str] = field(default_factory=set)  # nodes whose p.* outputs are incomplete
    file_columns: set[str] = field(default_factory=set)  # table_file nodes whose columns are incomplete


class Decoder:
    """Builds model objects from the JSON tree of one script file, appending problems to `errors`."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[ScriptError] = []
        self.gaps = DecodeGaps()

    # ---- error helpers ----------------------------------------------------------------------------------------

    def err(self, node: str | None, key: str | None, message: str, detail: str | None = None) -> None:
        self.errors.append(ScriptError(message, file=self.file, node=node, key=key, detail=detail))

    def check_scheme(self, node: str, key: str, url: str, schemes: tuple[str, ...]) -> None:
        """An unknown URL scheme is a script error now, not a failed batch later (spec 9.1)."""
        problem = scheme_problem(url, schemes)
        if problem:
            self.err(node, key, problem)

    def _get(self, obj: Mapping[str, Any], name: str, node: str | None, path: str, kinds: tuple[type, ...]) -> Any:
        v = get_key(obj, name)
        if is_missing(v) or v is None:
            return None
        ok = False if isinstance(v, bool) and bool not in kinds else isinstance(v, kinds)
        if not ok:
            want = " or ".join(_KIND_NAMES[k] for k in kinds)
            self.err(node, path, f"expected {want}, got {_json_kind(v)}")
            return None
        return v

    def str_(self, obj: Mapping[str, Any], name: str, node: str | None, path: str, default: str = "") -> str:
        v = self._get(obj, name, node, path, (str,))
        return default if v is None else v

    def int_(self, obj: Mapping[str, Any], name: str, node: str | None, path: str, default: int = 0) -> int:
        v = get_key(obj, name)
        if isinstance(v, float) and not isinstance(v, bool):
            self.err(node, path, f"expected integer, got number {v!r}")
            return default
        r = self._get(obj, name, node, path, (int,))
        return default if r is None else r

    def bool_(self, obj: Mapping[str, Any], name: str, node: str | None, path: str) -> bool:
        v = self._get(obj, name, node, path, (bool,))
        return bool(v)

    def obj(self, obj: Mapping[str, Any], name: str, node: str | None, path: str) -> dict[str, Any] | None:
        v = self._get(obj, name, node, path, (dict,))
        return v if isinstance(v, dict) else None

    def list_(self, obj: Mapping[str, Any], name: str, node: str | None, path: str) -> list[Any] | None:
        v = self._get(obj, name, node, path, (list,))
        return v if isinstance(v, list) else None

    def enum_(
        self, obj: Mapping[str, Any], name: str, node: str | None, path: str, cls: Any, default: Any, required: str = ""
    ) -> Any:
        """An enum value; absent -> `default`, or the `required` message when that is set."""
        raw = get_key(obj, name)
        text = self.str_(obj, name, node, path)
        if text == "":
            if required and (is_missing(raw) or raw is None or raw == ""):
                self.err(node, path, required)
            return default
        try:
            return cls(text)
        except ValueError:
            allowed = ", ".join(repr(m.value) for m in cls)
            self.err(node, path, f"invalid value {text!r}, expected one of: {allowed}")
            return default

    def field_type(self, obj: Mapping[str, Any], name: str, node: str | None, path: str) -> FieldType | None:
        text = self.str_(obj, name, node, path)
        if text == "":
            self.err(node, path, "field type is required")
            return None
        try:
            return FieldType.parse(text)
        except ValueError as e:
            self.err(node, path, str(e))
            return None

    def expr(self, text: str, node: str | None, path: str) -> Expression:
        """Parse one expression; a syntax error is recorded with a caret and the expression kept unparsed."""
        try:
            return Expression(text, parse(text))
        except ExprError as e:
            self.err(node, path, f"cannot parse expression: {e.message}", caret_detail(e.text, e.pos))
            return Expression(text, None)

    def opt_expr(self, obj: Mapping[str, Any], name: str, node: str | None, path: str) -> Expression | None:
        text = self.str_(obj, name, node, path)
        return self.expr(text, node, path) if text.strip() else None

    def req_expr(self, obj: Mapping[str, Any], name: str, node: str | None, path: str) -> Expression | None:
        text = self.str_(obj, name, node, path)
        if not text.strip():
            self.err(node, path, "expression is required")
            return None
        return self.expr(text, node, path)

    # ---- script -----------------------------------------------------------------------------------------------

    def script(self, tree: Any) -> Script:
        if not isinstance(tree, dict):
            self.err(None, None, f"script must be a JSON object, got {_json_kind(tree)}")
            return Script(self.file, {}, {})
        raw_nodes = self.obj(tree, "nodes", None, "nodes")
        if not raw_nodes:
            self.err(None, "nodes", "script has no nodes")
        policies = self.policies(self.obj(tree, "dependency_policies", None, "dependency_policies") or {})
        default = next((p.name for p in policies.values() if p.is_default), "")
        nodes: dict[str, Node] = {}
        for name, raw in (raw_nodes or {}).items():
            if not isinstance(raw, dict):
                self.err(name, None, f"node definition must be an object, got {_json_kind(raw)}")
                continue
            node = self.node(name, raw, default)
            if node is not None:
                nodes[name] = node
        return Script(self.file, nodes, policies)

    # ---- nodes ------------------------------------------------------------------------------------------------

    def node(self, name: str, raw: Mapping[str, Any], default_policy: str) -> Node | None:
        type_text = self.str_(raw, "type", name, "type")
        try:
            ntype = NodeType(type_text)
        except ValueError:
            allowed = ", ".join(t.value for t in NodeType)
            self.err(name, "type", f"unknown node type {type_text!r}, expected one of: {allowed}")
            self._remember_undecodable_writer(raw)
            return None
        rerun = self.enum_(raw, "rerun_policy", name, "rerun_policy", RerunPolicy, RerunPolicy.RERUN)
        if ntype is NodeType.DISTINCT_TABLE and rerun is not RerunPolicy.FAIL:
            self.err(name, "rerun_policy", "distinct_table requires rerun_policy 'fail'")
        max_time = self.int_(raw, "max_batch_processing_time", name, "max_batch_processing_time")
        if max_time < 0:
            self.err(name, "max_batch_processing_time", f"must not be negative, got {max_time}")
        custom_proc_type = self.str_(raw, "custom_proc_type", name, "custom_proc_type")
        reader = self.obj(raw, "r", name, "r")
        writer = self.obj(raw, "w", name, "w")
        if reader is None:
            self.err(name, "r", f"{ntype.value} requires a reader definition 'r'")
        if writer is None:
            self.err(name, "w", f"{ntype.value} requires a writer definition 'w'")
        table_reader = file_reader = None
        if reader is not None:
            if ntype.has_file_reader:
                file_reader = self.file_reader(name, reader)
            else:
                table_reader = self.table_reader(name, reader)
        lookup = None
        if ntype.has_lookup:
            raw_l = self.obj(raw, "l", name, "l")
            if raw_l is None:
                self.err(name, "l", "table_lookup_table requires a lookup definition 'l'")
                self.gaps.lookups[name] = ""
            else:
                lookup = self.lookup(name, raw_l)
        custom = None
        if ntype.has_custom_processor:
            raw_p = self.obj(raw, "p", name, "p")
            if raw_p is None:
                self.err(name, "p", "table_custom_tfm_table requires a processor definition 'p'")
            else:
                custom = self.custom_processor(name, custom_proc_type, raw_p)
            if custom is None:
                self.gaps.processors.add(name)
        table_creator = file_creator = None
        if writer is not None:
            if ntype.has_file_creator:
                file_creator = self.file_creator(name, writer)
            else:
                table_creator = self.table_creator(name, writer)
        return Node(
            name=name,
            type=ntype,
            desc=self.str_(raw, "desc", name, "desc"),
            start_policy=self.enum_(raw, "start_policy", name, "start_policy", StartPolicy, StartPolicy.AUTO),
            rerun_policy=rerun,
            max_batch_processing_time_ms=max_time or 60000,
            custom_proc_type=custom_proc_type,
            handler_exe_type=self.str_(raw, "handler_exe_type", name, "handler_exe_type") or "capi_daemon",
            dependency_policy=self.str_(raw, "dependency_policy", name, "dependency_policy") or default_policy,
            table_reader=table_reader,
            file_reader=file_reader,
            lookup=lookup,
            custom_processor=custom,
            table_creator=table_creator,
            file_creator=file_creator,
        )

    def _remember_undecodable_writer(self, raw: Mapping[str, Any]) -> None:
        """A node we cannot decode still names its table and indexes; other nodes may refer to them."""
        writer = get_key(raw, "w")
        if not isinstance(writer, dict):
            return
        table = get_key(writer, "name")
        if isinstance(table, str) and table:
            self.gaps.tables.add(table)
            indexes = get_key(writer, "indexes")
            for idx in indexes if isinstance(indexes, dict) else ():
                self.gaps.indexes[idx] = table

    # ---- readers ----------------------------------------------------------------------------------------------

    def table_reader(self, node: str, raw: Mapping[str, Any]) -> TableReader | None:
        table = self.str_(raw, "table", node, "r.table")
        if not table:
            self.err(node, "r.table", "table reader requires a table name")
        batches = self.int_(raw, "expected_batches_total", node, "r.expected_batches_total") or 1
        if not 1 <= batches <= MAX_BATCHES_TOTAL:
            self.err(
                node,
                "r.expected_batches_total",
                f"must be between 1 and {MAX_BATCHES_TOTAL} (batch index is int16), got {batches}",
            )
        rowset = self.int_(raw, "rowset_size", node, "r.rowset_size") or 1000
        if not 1 <= rowset <= MAX_ROWSET_SIZE:
            self.err(node, "r.rowset_size", f"must be between 1 and {MAX_ROWSET_SIZE}, got {rowset}")
        return TableReader(table, batches, rowset) if table else None

    def file_reader(self, node: str, raw: Mapping[str, Any]) -> FileReader | None:
        urls_raw = self.list_(raw, "urls", node, "r.urls")
        urls: list[str] = []
        for i, u in enumerate(urls_raw or []):
            if isinstance(u, str):
                urls.append(u)
                self.check_scheme(node, f"r.urls[{i}]", u, READ_SCHEMES)
            else:
                self.err(node, f"r.urls[{i}]", f"expected string, got {_json_kind(u)}")
        if not urls_raw:
            self.err(node, "r.urls", "file reader requires at least one url")
        raw_csv = self.obj(raw, "csv", node, "r.csv") or {}
        csv = CsvReaderSettings(
            hdr_line_idx=self.int_(raw_csv, "hdr_line_idx", node, "r.csv.hdr_line_idx"),
            first_data_line_idx=self.int_(raw_csv, "first_data_line_idx", node, "r.csv.first_data_line_idx"),
            separator=self.str_(raw_csv, "separator", node, "r.csv.separator") or ",",
        )
        raw_cols = self.obj(raw, "columns", node, "r.columns")
        if not raw_cols:
            self.err(node, "r.columns", "file reader requires at least one column")
            self.gaps.readers.add(node)
            return None
        columns: dict[str, FileReaderColumn] = {}
        for cname, craw in raw_cols.items():
            path = f"r.columns.{cname}"
            if not isinstance(craw, dict):
                self.err(node, path, f"column definition must be an object, got {_json_kind(craw)}")
                continue
            ctype = self.field_type(craw, "col_type", node, f"{path}.col_type")
            ccsv = self.obj(craw, "csv", node, f"{path}.csv") or {}
            cpq = self.obj(craw, "parquet", node, f"{path}.parquet") or {}
            if ctype is None:
                continue
            columns[cname] = FileReaderColumn(
                name=cname,
                type=ctype,
                default_value=self.str_(craw, "col_default_value", node, f"{path}.col_default_value"),
                csv=CsvColumnSettings(
                    col_idx=self.int_(ccsv, "col_idx", node, f"{path}.csv.col_idx"),
                    col_hdr=self.str_(ccsv, "col_hdr", node, f"{path}.csv.col_hdr"),
                    col_format=self.str_(ccsv, "col_format", node, f"{path}.csv.col_format"),
                ),
                parquet_col_name=self.str_(cpq, "col_name", node, f"{path}.parquet.col_name"),
            )
        if len(columns) != len(raw_cols):
            self.gaps.readers.add(node)
        fmt = self._reader_format(node, columns)
        if fmt is None or not urls:
            self.gaps.readers.add(node)
            return None
        return FileReader(tuple(urls), fmt, columns, csv)

    def _reader_format(self, node: str, columns: Mapping[str, FileReaderColumn]) -> DataFormat | None:
        """Parquet when columns name parquet columns, CSV when they locate csv cells (spec 1.5)."""
        parquet = [c.name for c in columns.values() if c.parquet_col_name]
        csv = [c.name for c in columns.values() if c.csv.col_hdr or c.csv.col_idx > 0]
        if parquet and csv:
            self.err(
                node,
                "r.columns",
                f"columns mix parquet settings ({parquet[0]}) and csv settings ({csv[0]}); pick one file type",
            )
            return None
        if parquet:
            for c in columns.values():
                if not c.parquet_col_name:
                    self.err(
                        node, f"r.columns.{c.name}.parquet.col_name", "parquet reader column needs parquet.col_name"
                    )
            return DataFormat.PARQUET
        if not csv and len(columns) != 1:
            if columns:
                self.err(
                    node,
                    "r.columns",
                    "cannot tell the file type: set csv.col_hdr/csv.col_idx or parquet.col_name on the columns",
                )
            return None
        by_name = [c.name for c in columns.values() if c.csv.col_hdr]
        by_idx = [c.name for c in columns.values() if not c.csv.col_hdr]
        for c in columns.values():
            if not c.csv.col_hdr and c.csv.col_idx < 0:
                self.err(node, f"r.columns.{c.name}.csv.col_idx", f"negative column index {c.csv.col_idx}")
        if by_name and by_idx:
            self.err(
                node,
                "r.columns",
                f"csv columns cannot use both col_hdr ({by_name[0]}) and col_idx ({by_idx[0]}); pick one method",
            )
            return None
        return DataFormat.CSV

    # ---- table creator ----------------------------------------------------------------------------------------

    def table_name(self, node: str, key: str, name: str) -> None:
        if not name:
            self.err(node, key, "table name is required")
        elif problem := identifier_problem(name, "table"):
            self.err(node, key, problem)
        elif _TABLE_NAME_RESERVED.search(name):
            self.err(node, key, f"invalid table name {name!r}: must not start with idx, wf or system")
        elif len(name) > MAX_NAME_LEN:
            self.err(node, key, f"table name {name!r} is longer than {MAX_NAME_LEN} characters")

    def table_creator(self, node: str, raw: Mapping[str, Any]) -> TableCreator | None:
        name = self.str_(raw, "name", node, "w.name")
        self.table_name(node, "w.name", name)
        raw_fields = self.obj(raw, "fields", node, "w.fields")
        if not raw_fields:
            self.err(node, "w.fields", "table creator requires at least one field")
        fields: dict[str, TableField] = {}
        for fname, fraw in (raw_fields or {}).items():
            path = f"w.fields.{fname}"
            if problem := identifier_problem(fname, "field"):
                self.err(node, path, problem)
                continue
            if not isinstance(fraw, dict):
                self.err(node, path, f"field definition must be an object, got {_json_kind(fraw)}")
                continue
            ftype = self.field_type(fraw, "type", node, f"{path}.type")
            expression = self.req_expr(fraw, "expression", node, f"{path}.expression")
            default_text = self._get(fraw, "default_value", node, f"{path}.default_value", (str,))
            if ftype is None or expression is None:
                continue
            try:
                default = parse_default_value(ftype, default_text)
            except ValueError as e:
                self.err(node, f"{path}.default_value", str(e))
                continue
            fields[fname] = TableField(fname, ftype, expression, default, default_text)
        indexes: dict[str, IndexDef] = {}
        for iname, itext in (self.obj(raw, "indexes", node, "w.indexes") or {}).items():
            path = f"w.indexes.{iname}"
            if problem := identifier_problem(iname, "index"):
                self.err(node, path, problem)
            elif not _INDEX_NAME.fullmatch(iname):
                self.err(node, path, f"invalid index name {iname!r}: must be idx followed by letters, digits or _")
            elif len(iname) > MAX_NAME_LEN:
                self.err(node, path, f"index name {iname!r} is longer than {MAX_NAME_LEN} characters")
            if not isinstance(itext, str):
                self.err(node, path, f"index definition must be a string, got {_json_kind(itext)}")
                self.gaps.indexes[iname] = name
                continue
            try:
                unique, comps = parse_index_def(itext, {n: f.type for n, f in fields.items()})
            except KeyDefError as e:
                if e.unknown_field not in (raw_fields or {}):  # else the field itself is already reported
                    self.err(node, path, e.message, e.detail)
                self.gaps.indexes[iname] = name
                continue
            indexes[iname] = IndexDef(iname, unique, comps, itext)
        if len(fields) != len(raw_fields or {}):
            self.gaps.tables.add(name)
        if not name:
            return None
        return TableCreator(
            name=name,
            fields=fields,
            indexes=indexes,
            having=self.opt_expr(raw, "having", node, "w.having"),
            table_options=self.str_(raw, "table_options", node, "w.table_options"),
        )

    # ---- file creator -----------------------------------------------------------------------------------------

    def file_creator(self, node: str, raw: Mapping[str, Any]) -> FileCreator | None:
        url = self.str_(raw, "url_template", node, "w.url_template")
        if not url:
            self.err(node, "w.url_template", "file creator requires url_template")
        else:
            self.check_scheme(node, "w.url_template", url, WRITE_SCHEMES)
        raw_cols = self.list_(raw, "columns", node, "w.columns")
        if not raw_cols:
            self.err(node, "w.columns", "file creator requires at least one column")
            return None
        columns: list[FileColumn] = []
        for i, craw in enumerate(raw_cols):
            path = f"w.columns[{i}]"
            if not isinstance(craw, dict):
                self.err(node, path, f"column definition must be an object, got {_json_kind(craw)}")
                continue
            cname = self.str_(craw, "name", node, f"{path}.name")
            if not cname:
                self.err(node, f"{path}.name", "column name is required")
            elif problem := identifier_problem(cname, "file writer column"):
                self.err(node, f"{path}.name", problem)
                continue
            elif any(c.name == cname for c in columns):
                self.err(node, f"{path}.name", f"duplicate column name {cname!r}")
            path = f"w.columns.{cname}" if cname else path
            ctype = self.field_type(craw, "type", node, f"{path}.type")
            expression = self.req_expr(craw, "expression", node, f"{path}.expression")
            ccsv = self.obj(craw, "csv", node, f"{path}.csv") or {}
            cpq = self.obj(craw, "parquet", node, f"{path}.parquet") or {}
            if not cname or ctype is None or expression is None:
                continue
            columns.append(
                FileColumn(
                    name=cname,
                    type=ctype,
                    expression=expression,
                    csv_header=self.str_(ccsv, "header", node, f"{path}.csv.header"),
                    csv_format=self.str_(ccsv, "format", node, f"{path}.csv.format"),
                    parquet_column_name=self.str_(cpq, "column_name", node, f"{path}.parquet.column_name"),
                )
            )
        if len(columns) != len(raw_cols):
            self.gaps.file_columns.add(node)
        if not columns:
            return None
        first = columns[0]
        if first.parquet_column_name:
            fmt = DataFormat.PARQUET
        elif first.csv_header:
            fmt = DataFormat.CSV
        else:
            self.err(
                node,
                f"w.columns.{first.name}",
                "cannot tell the file type from the first column: set csv.header or parquet.column_name",
            )
            return None
        raw_pq = self.obj(raw, "parquet", node, "w.parquet") or {}
        codec = self.str_(raw_pq, "codec", node, "w.parquet.codec") or "gzip"
        if fmt is DataFormat.PARQUET and codec not in PARQUET_CODECS:
            self.err(node, "w.parquet.codec", f"unknown codec {codec!r}, expected one of: {', '.join(PARQUET_CODECS)}")
        raw_csv = self.obj(raw, "csv", node, "w.csv") or {}
        named = {n for c in raw_cols if isinstance(c, dict) and isinstance(n := get_key(c, "name"), str)}
        top = self.top(node, self.obj(raw, "top", node, "w.top"), {c.name: c.type for c in columns}, named)
        return FileCreator(
            url_template=url,
            format=fmt,
            columns=tuple(columns),
            having=self.opt_expr(raw, "having", node, "w.having"),
            top=top,
            csv_separator=self.str_(raw_csv, "separator", node, "w.csv.separator") or ",",
            parquet_codec=codec,
        )

    def top(
        self, node: str, raw: Mapping[str, Any] | None, fields: Mapping[str, FieldType], declared: set[str]
    ) -> TopDef | None:
        """`w.top`; `declared` = every column name written in the script, including columns already reported."""
        if raw is None:
            return None
        limit = self.int_(raw, "limit", node, "w.top.limit")
        if limit > TOP_LIMIT_MAX:
            self.err(node, "w.top.limit", f"must not exceed {TOP_LIMIT_MAX}, got {limit}")
        order_text = self.str_(raw, "order", node, "w.top.order")
        if not order_text.strip():
            return None
        try:
            order = parse_order(order_text, fields)
        except KeyDefError as e:
            if e.unknown_field not in declared:
                self.err(node, "w.top.order", e.message, e.detail)
            return None
        return TopDef(order, order_text, limit if limit > 0 else TOP_LIMIT_MAX)

    # ---- lookup -----------------------------------------------------------------------------------------------

    def lookup(self, node: str, raw: Mapping[str, Any]) -> Lookup | None:
        index_name = self.str_(raw, "index_name", node, "l.index_name")
        if not index_name:
            self.err(node, "l.index_name", "lookup requires index_name")
        join_text = self.str_(raw, "join_on", node, "l.join_on")
        join_on: list[str] = []
        if not join_text.strip():
            self.err(node, "l.join_on", "lookup requires join_on")
        for item in join_text.split(",") if join_text.strip() else []:
            e = self.expr(item.strip(), node, "l.join_on")
            target = unparen(e.parsed) if e.parsed is not None else None
            if isinstance(target, Selector) and isinstance(target.x, Ident) and target.x.name == "r":
                join_on.append(target.name)
            elif e.parsed is not None:
                self.err(node, "l.join_on", f"join_on items must be r.<field>, got {item.strip()!r}")
        join_type = self.enum_(
            raw, "join_type", node, "l.join_type", JoinType, None, "lookup requires join_type 'left' or 'inner'"
        )
        sizes = {}
        for key in ("idx_read_batch_size", "right_lookup_read_batch_size"):
            value = self.int_(raw, key, node, f"l.{key}") or 3000
            if not 1 <= value <= MAX_LOOKUP_READ_BATCH:
                self.err(node, f"l.{key}", f"must be between 1 and {MAX_LOOKUP_READ_BATCH}, got {value}")
            sizes[key] = value
        filt = self.opt_expr(raw, "filter", node, "l.filter")
        if not index_name or join_type is None or len(join_on) == 0:
            self.gaps.lookups[node] = index_name
            return None
        return Lookup(
            index_name=index_name,
            join_on=tuple(join_on),
            join_type=join_type,
            group=self.bool_(raw, "group", node, "l.group"),
            filter=filt,
            **sizes,
        )

    # ---- custom processors ------------------------------------------------------------------------------------

    def custom_processor(self, node: str, proc_type: str, raw: Mapping[str, Any]) -> CustomProcessorDef | None:
        if proc_type == "py_calc":
            return self.py_calc(node, raw)
        if proc_type == "tag_and_denormalize":
            return self.tag_and_denormalize(node, raw)
        try:
            plugin = processor_type(proc_type)
        except PluginError as e:
            self.err(node, "custom_proc_type", str(e))
            return None
        if plugin is None:
            self.err(
                node,
                "custom_proc_type",
                f"unknown custom processor type {proc_type!r}, expected one of: {', '.join(available_types())}",
            )
            return None
        return self.plugin_processor(node, proc_type, plugin, raw)

    def plugin_processor(
        self, node: str, proc_type: str, plugin: CustomProcessorType, raw: Mapping[str, Any]
    ) -> PluginProcessorDef | None:
        """Settings of an installed processor type: its own `parse`, then names and types of its `p.*` fields."""
        try:
            settings = plugin.parse(raw)
        except ValueError as e:
            self.err(node, "p", f"{proc_type}: {e}")
            return None
        ok = True
        for fname, ftype in settings.field_types.items():
            problem = identifier_problem(fname, "field")
            if problem or not isinstance(ftype, FieldType):
                self.err(
                    node, "p", f"{proc_type}: output field {fname!r}: {problem or f'type {ftype!r} is not a FieldType'}"
                )
                ok = False
        return PluginProcessorDef(proc_type, plugin, settings) if ok else None

    def py_calc(self, node: str, raw: Mapping[str, Any]) -> PyCalcDef | None:
        urls: list[str] = []
        for i, u in enumerate(self.list_(raw, "python_code_urls", node, "p.python_code_urls") or []):
            if isinstance(u, str):
                urls.append(u)
                self.check_scheme(node, f"p.python_code_urls[{i}]", u, READ_SCHEMES)
            else:
                self.err(node, f"p.python_code_urls[{i}]", f"expected string, got {_json_kind(u)}")
        raw_fields = self.obj(raw, "calculated_fields", node, "p.calculated_fields")
        if not raw_fields:
            self.err(node, "p.calculated_fields", "py_calc requires at least one calculated field")
            return None
        fields: dict[str, CalculatedField] = {}
        for fname, fraw in raw_fields.items():
            path = f"p.calculated_fields.{fname}"
            if not isinstance(fraw, dict):
                self.err(node, path, f"field definition must be an object, got {_json_kind(fraw)}")
                continue
            ftype = self.field_type(fraw, "type", node, f"{path}.type")
            expression = self.req_expr(fraw, "expression", node, f"{path}.expression")
            if expression is None or ftype is None:
                continue
            if expression.parsed is not None and not isinstance(unparen(expression.parsed), _PY_CALC_TOP):
                self.err(
                    node,
                    f"{path}.expression",
                    "py_calc expression must be a function call or a field reference (r.x / p.y)",
                )
                continue
            fields[fname] = CalculatedField(fname, ftype, expression)
        if len(fields) != len(raw_fields):
            self.gaps.processor_fields.add(node)
        order = self._calc_order(node, fields)
        if order is None:
            return None
        return PyCalcDef(tuple(urls), fields, order)

    def _calc_order(self, node: str, fields: Mapping[str, CalculatedField]) -> tuple[str, ...] | None:
        """Kahn's order of calculated fields by their p.* references (spec 7.1); a cycle is an error."""
        deps: dict[str, set[str]] = {}
        for name, f in fields.items():
            refs = py_calc_refs(f.expression)
            deps[name] = {field for alias, field in refs if alias == "p" and field in fields}
        order: list[str] = []
        remaining = dict(deps)
        while remaining:
            ready = [n for n, d in remaining.items() if not d - set(order)]
            if not ready:
                cyclic = ", ".join(sorted(remaining))
                self.err(node, "p.calculated_fields", f"calculated fields depend on each other in a cycle: {cyclic}")
                return None
            for n in ready:
                order.append(n)
                del remaining[n]
        return tuple(order)

    def tag_and_denormalize(self, node: str, raw: Mapping[str, Any]) -> TagAndDenormalizeDef | None:
        tag_field = self.str_(raw, "tag_field_name", node, "p.tag_field_name")
        if not tag_field:
            self.err(node, "p.tag_field_name", "tag_and_denormalize requires tag_field_name")
        raw_criteria = self.obj(raw, "tag_criteria", node, "p.tag_criteria")
        url = self.str_(raw, "tag_criteria_url", node, "p.tag_criteria_url")
        if (raw_criteria is not None) == bool(url):
            self.err(node, "p.tag_criteria", "specify exactly one of tag_criteria and tag_criteria_url")
            return None
        criteria = None
        if raw_criteria is not None:
            criteria = self.tag_criteria(node, raw_criteria, "p.tag_criteria")
        if url:
            self.check_scheme(node, "p.tag_criteria_url", url, READ_SCHEMES)
        if not tag_field:
            return None
        return TagAndDenormalizeDef(tag_field, criteria, url)

    def tag_criteria(self, node: str | None, raw: Mapping[str, Any], path: str) -> dict[str, Expression]:
        """Tag -> criterion expression; also used for criteria files fetched at run time."""
        criteria: dict[str, Expression] = {}
        for tag, text in raw.items():
            if not isinstance(text, str):
                self.err(node, f"{path}.{tag}", f"criterion must be a string expression, got {_json_kind(text)}")
                continue
            criteria[tag] = self.expr(text, node, f"{path}.{tag}")
        return criteria

    # ---- dependency policies ----------------------------------------------------------------------------------

    def policies(self, raw: Mapping[str, Any]) -> dict[str, DependencyPolicy]:
        out: dict[str, DependencyPolicy] = {}
        for name, praw in raw.items():
            path = f"dependency_policies.{name}"
            if not isinstance(praw, dict):
                self.err(None, path, f"policy definition must be an object, got {_json_kind(praw)}")
                continue
            rules: list[DependencyRule] = []
            for i, rraw in enumerate(self.list_(praw, "rules", None, f"{path}.rules") or []):
                rpath = f"{path}.rules[{i}]"
                if not isinstance(rraw, dict):
                    self.err(None, rpath, f"rule must be an object, got {_json_kind(rraw)}")
                    continue
                cmd = self.enum_(
                    rraw, "cmd", None, f"{rpath}.cmd", DependencyCmd, None, "rule requires cmd: go, wait or nogo"
                )
                expression = self.req_expr(rraw, "expression", None, f"{rpath}.expression")
                if cmd is not None and expression is not None:
                    rules.append(DependencyRule(cmd, expression))
            order_text = self.str_(praw, "event_priority_order", None, f"{path}.event_priority_order")
            order: tuple[KeyComponent, ...] = ()
            if order_text.strip():
                try:
                    order = parse_order(order_text, NRS_FIELDS)
                except KeyDefError as e:
                    self.err(None, f"{path}.event_priority_order", e.message, e.detail)
            out[name] = DependencyPolicy(
                name=name,
                is_default=self.bool_(praw, "is_default", None, f"{path}.is_default"),
                event_priority_order=order,
                rules=tuple(rules),
                event_priority_order_text=order_text,
            )
        defaults = [p.name for p in out.values() if p.is_default]
        if len(defaults) != 1:
            found = ", ".join(defaults) if defaults else "none"
            self.err(
                None,
                "dependency_policies",
                f"exactly one dependency policy must have is_default: true (found {found})",
            )
        return out


def py_calc_refs(expression: Expression) -> set[tuple[str, str]]:
    """`alias.field` references of a py_calc expression (bare identifiers such as class names are not refs)."""
    return field_refs(expression.parsed) if expression.parsed is not None else set()
