"""The validated script model (spec 1.2-1.11): immutable, fully typed, with every default already applied.

Everything downstream (engine, store, DAG factory) works from these objects and never looks at raw JSON again.
A `Script` is only handed out by the loader once validation found no errors, so consumers may rely on every
reference (tables, indexes, policies) resolving. Objects that hold name -> part maps (Script, Node, readers,
creators, processors) compare and hash by identity, so they can key caches; leaf objects compare by value.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from capillaries_provider.expr.ast import Expr
from capillaries_provider.expr.keys import KeyComponent
from capillaries_provider.expr.types import FieldType, Value
from capillaries_provider.script.plugins import CustomProcessorType, ProcessorSettings


class NodeType(enum.Enum):
    """The six node types and what each one is made of (spec 1.3 capability matrix)."""

    FILE_TABLE = "file_table"
    TABLE_TABLE = "table_table"
    TABLE_LOOKUP_TABLE = "table_lookup_table"
    TABLE_FILE = "table_file"
    TABLE_CUSTOM_TFM_TABLE = "table_custom_tfm_table"
    DISTINCT_TABLE = "distinct_table"

    @property
    def has_file_reader(self) -> bool:
        return self is NodeType.FILE_TABLE

    @property
    def has_table_reader(self) -> bool:
        return self is not NodeType.FILE_TABLE

    @property
    def has_lookup(self) -> bool:
        return self is NodeType.TABLE_LOOKUP_TABLE

    @property
    def has_custom_processor(self) -> bool:
        return self is NodeType.TABLE_CUSTOM_TFM_TABLE

    @property
    def has_table_creator(self) -> bool:
        return self is not NodeType.TABLE_FILE

    @property
    def has_file_creator(self) -> bool:
        return self is NodeType.TABLE_FILE


class StartPolicy(enum.Enum):
    AUTO = "auto"
    MANUAL = "manual"


class RerunPolicy(enum.Enum):
    RERUN = "rerun"
    FAIL = "fail"


class JoinType(enum.Enum):
    LEFT = "left"
    INNER = "inner"


class DataFormat(enum.Enum):
    CSV = "csv"
    PARQUET = "parquet"


class DependencyCmd(enum.Enum):
    GO = "go"
    WAIT = "wait"
    NOGO = "nogo"


@dataclass(frozen=True)
class Expression:
    """A Go expression as written in the script plus its parse tree.

    `parsed` is None only while a script that failed to parse is being validated; a loaded Script never has one.
    """

    text: str
    parsed: Expr | None

    @property
    def ast(self) -> Expr:
        if self.parsed is None:
            raise ValueError(f"expression did not parse: {self.text}")
        return self.parsed


# ---- readers -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableReader:
    """`r` of table-reading nodes (spec 1.4)."""

    table: str
    expected_batches_total: int = 1
    rowset_size: int = 1000


@dataclass(frozen=True)
class CsvReaderSettings:
    """`r.csv` (spec 1.5); only the first byte of `separator` is used when reading."""

    hdr_line_idx: int = 0
    first_data_line_idx: int = 0
    separator: str = ","


@dataclass(frozen=True)
class CsvColumnSettings:
    col_idx: int = 0
    col_hdr: str = ""
    col_format: str = ""


@dataclass(frozen=True)
class FileReaderColumn:
    """One `r.columns` entry; `default_value` is the raw `col_default_value` text ("" when absent)."""

    name: str
    type: FieldType
    default_value: str = ""
    csv: CsvColumnSettings = field(default_factory=CsvColumnSettings)
    parquet_col_name: str = ""


@dataclass(frozen=True, eq=False)
class FileReader:
    """`r` of file_table (spec 1.5). One url = one batch."""

    urls: tuple[str, ...]
    format: DataFormat
    columns: Mapping[str, FileReaderColumn]
    csv: CsvReaderSettings = field(default_factory=CsvReaderSettings)

    @property
    def csv_by_header(self) -> bool:
        """CSV "name" mode: columns are located by header text rather than by index."""
        return any(c.csv.col_hdr for c in self.columns.values())

    @property
    def field_types(self) -> dict[str, FieldType]:
        return {name: c.type for name, c in self.columns.items()}


# ---- table creator ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableField:
    """`w.fields.<name>`; `default_value` is the typed value used for unmatched left-join rows (spec 1.6)."""

    name: str
    type: FieldType
    expression: Expression
    default_value: Value
    default_value_text: str | None = None


@dataclass(frozen=True)
class IndexDef:
    """`w.indexes.<name>` (spec 1.7)."""

    name: str
    unique: bool
    components: tuple[KeyComponent, ...]
    text: str = ""


@dataclass(frozen=True, eq=False)
class TableCreator:
    """`w` of table-writing nodes (spec 1.6)."""

    name: str
    fields: Mapping[str, TableField]
    indexes: Mapping[str, IndexDef] = field(default_factory=dict)
    having: Expression | None = None
    table_options: str = ""

    @property
    def field_types(self) -> dict[str, FieldType]:
        return {name: f.type for name, f in self.fields.items()}


# ---- file creator -----------------------------------------------------------------------------------------------

TOP_LIMIT_MAX = 5_000_000


@dataclass(frozen=True)
class FileColumn:
    """One `w.columns` entry of table_file (spec 1.8)."""

    name: str
    type: FieldType
    expression: Expression
    csv_header: str = ""
    csv_format: str = ""
    parquet_column_name: str = ""


@dataclass(frozen=True)
class TopDef:
    """`w.top`: per-batch sort over column names; `limit` already defaulted (<= 0 means TOP_LIMIT_MAX)."""

    order: tuple[KeyComponent, ...]
    order_text: str
    limit: int = TOP_LIMIT_MAX


@dataclass(frozen=True)
class FileCreator:
    """`w` of table_file (spec 1.8). `url_template` keeps `{batch_idx|string}`/`{run_id|string}` for runtime."""

    url_template: str
    format: DataFormat
    columns: tuple[FileColumn, ...]
    having: Expression | None = None
    top: TopDef | None = None
    csv_separator: str = ","
    parquet_codec: str = "gzip"

    @property
    def field_types(self) -> dict[str, FieldType]:
        return {c.name: c.type for c in self.columns}


# ---- lookup and custom processors -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lookup:
    """`l` of table_lookup_table (spec 1.9). `join_on` lists the reader field names, in index component order."""

    index_name: str
    join_on: tuple[str, ...]
    join_type: JoinType
    group: bool = False
    filter: Expression | None = None
    idx_read_batch_size: int = 3000
    right_lookup_read_batch_size: int = 3000


@dataclass(frozen=True)
class CalculatedField:
    """`p.calculated_fields.<name>`: a Python call expression (parsed with the Go grammar, never Go-checked)."""

    name: str
    type: FieldType
    expression: Expression


@dataclass(frozen=True, eq=False)
class PyCalcDef:
    """`p` of a py_calc node (spec 7.1). `calc_order` is the dependency order of the calculated fields."""

    python_code_urls: tuple[str, ...]
    calculated_fields: Mapping[str, CalculatedField]
    calc_order: tuple[str, ...]

    @property
    def field_types(self) -> dict[str, FieldType]:
        return {name: f.type for name, f in self.calculated_fields.items()}


@dataclass(frozen=True, eq=False)
class TagAndDenormalizeDef:
    """`p` of a tag_and_denormalize node (spec 7.2): inline criteria, or a URL fetched when the node runs."""

    tag_field_name: str
    tag_criteria: Mapping[str, Expression] | None = None
    tag_criteria_url: str = ""

    @property
    def field_types(self) -> dict[str, FieldType]:
        return {self.tag_field_name: FieldType.STRING}


@dataclass(frozen=True, eq=False)
class PluginProcessorDef:
    """`p` of a third-party processor type (script/plugins.py): the type and the settings it parsed from `p`."""

    proc_type: str
    plugin: CustomProcessorType
    settings: ProcessorSettings

    @property
    def field_types(self) -> dict[str, FieldType]:
        return dict(self.settings.field_types)


CustomProcessorDef = PyCalcDef | TagAndDenormalizeDef | PluginProcessorDef

# ---- dependency policies ----------------------------------------------------------------------------------------


# The `nrs.*` variables of dependency rules and event_priority_order (spec 1.11).
NRS_FIELDS: Mapping[str, FieldType] = {
    "run_id": FieldType.INT,
    "run_is_current": FieldType.BOOL,
    "run_status": FieldType.INT,
    "node_status": FieldType.INT,
}


@dataclass(frozen=True)
class DependencyRule:
    cmd: DependencyCmd
    expression: Expression


@dataclass(frozen=True)
class DependencyPolicy:
    """`dependency_policies.<name>` (spec 1.11)."""

    name: str
    is_default: bool
    event_priority_order: tuple[KeyComponent, ...]
    rules: tuple[DependencyRule, ...]
    event_priority_order_text: str = ""


# ---- nodes and script -------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Node:
    """One script node (spec 1.3); exactly the parts its type has are set."""

    name: str
    type: NodeType
    desc: str = ""
    start_policy: StartPolicy = StartPolicy.AUTO
    rerun_policy: RerunPolicy = RerunPolicy.RERUN
    max_batch_processing_time_ms: int = 60000
    custom_proc_type: str = ""
    handler_exe_type: str = "capi_daemon"
    dependency_policy: str = ""
    table_reader: TableReader | None = None
    file_reader: FileReader | None = None
    lookup: Lookup | None = None
    custom_processor: CustomProcessorDef | None = None
    table_creator: TableCreator | None = None
    file_creator: FileCreator | None = None

    @property
    def target_table(self) -> str | None:
        """The table this node creates, if any."""
        return self.table_creator.name if self.table_creator else None


@dataclass(frozen=True, eq=False)
class Script:
    """A loaded script: nodes and dependency policies in file order, plus name indexes used everywhere."""

    file: str
    nodes: Mapping[str, Node]
    dependency_policies: Mapping[str, DependencyPolicy]

    @cached_property
    def table_creators(self) -> dict[str, str]:
        """Table name -> name of the node that creates it (the first one, should validation find duplicates)."""
        out: dict[str, str] = {}
        for n in self.nodes.values():
            if n.table_creator:
                out.setdefault(n.table_creator.name, n.name)
        return out

    @cached_property
    def index_owners(self) -> dict[str, str]:
        """Index name -> name of the node whose table carries it (the first one, as for tables)."""
        out: dict[str, str] = {}
        for n in self.nodes.values():
            for idx in n.table_creator.indexes if n.table_creator else ():
                out.setdefault(idx, n.name)
        return out

    def creator_of(self, table: str) -> Node:
        """The node that creates `table` (KeyError if none)."""
        return self.nodes[self.table_creators[table]]

    def index(self, index_name: str) -> tuple[Node, IndexDef]:
        """The node owning `index_name` and the index definition (KeyError if none)."""
        owner = self.nodes[self.index_owners[index_name]]
        assert owner.table_creator is not None
        return owner, owner.table_creator.indexes[index_name]

    def reader_fields(self, node: Node) -> dict[str, FieldType]:
        """The `r.*` fields a node sees: its file columns, or the fields of the table it reads."""
        if node.file_reader is not None:
            return node.file_reader.field_types
        if node.table_reader is not None and node.table_reader.table in self.table_creators:
            creator = self.creator_of(node.table_reader.table).table_creator
            return creator.field_types if creator else {}
        return {}

    def lookup_fields(self, node: Node) -> dict[str, FieldType]:
        """The `l.*` fields of a lookup node: all fields of the table that owns the lookup index."""
        if node.lookup is None or node.lookup.index_name not in self.index_owners:
            return {}
        owner, _ = self.index(node.lookup.index_name)
        return owner.table_creator.field_types if owner.table_creator else {}

    def lookup_table(self, node: Node) -> str | None:
        """The table joined by a lookup node (the owner of its index)."""
        if node.lookup is None or node.lookup.index_name not in self.index_owners:
            return None
        return self.index(node.lookup.index_name)[0].target_table

    def policy_of(self, node: Node) -> DependencyPolicy:
        """The dependency policy that governs `node` (its own, else the script default)."""
        return self.dependency_policies[node.dependency_policy]

    @property
    def default_policy(self) -> DependencyPolicy:
        return next(p for p in self.dependency_policies.values() if p.is_default)
