"""Data and index tables of a run (spec 3.3): `<name>_<run %05d>` with a bigint rowid partition key.

The store takes plain table specs (name, typed fields, index specs) rather than the script model, so it can be
used and tested without loading a script.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cassandra.cluster import Session

from capillaries_provider.expr.keys import KeyComponent
from capillaries_provider.expr.types import FieldType
from capillaries_provider.script.names import validate_identifier, validate_keyspace_name
from capillaries_provider.store.session import execute_schema

# Columns every data table has besides the script's fields.
RESERVED_COLUMNS = frozenset({"rowid", "batch_idx"})


@dataclass(frozen=True)
class IndexSpec:
    """An index of a table creator: `unique(...)` or `non_unique(...)` over key components (spec 1.7)."""

    name: str
    unique: bool
    components: tuple[KeyComponent, ...]

    def __post_init__(self) -> None:
        validate_identifier(self.name, "index")


@dataclass(frozen=True)
class TableSpec:
    """What a table-creating node writes: its fields with types, its indexes and raw `table_options` CQL."""

    name: str
    fields: Mapping[str, FieldType]
    indexes: tuple[IndexSpec, ...] = ()
    table_options: str = field(default="")

    def __post_init__(self) -> None:
        validate_identifier(self.name, "table")
        for f in self.fields:
            validate_identifier(f, "field")
            if f.lower() in RESERVED_COLUMNS:
                raise ValueError(f"table {self.name}: field name {f!r} collides with a built-in column")


def run_table_name(name: str, run_id: int) -> str:
    """Physical table name of a table or index in a run: `orders` in run 3 -> `orders_00003`."""
    return f"{name}_{run_id:05d}"


def data_table_ddl(ks: str, spec: TableSpec, run_id: int) -> str:
    columns = "".join(f", {f} {t.cql}" for f, t in spec.fields.items())
    return (
        f"CREATE TABLE IF NOT EXISTS {ks}.{run_table_name(spec.name, run_id)}"
        f" ( rowid BIGINT, batch_idx BIGINT{columns}, PRIMARY KEY((rowid))) {spec.table_options}"
    ).rstrip()


def index_table_ddl(ks: str, index: IndexSpec, run_id: int, table_options: str = "") -> str:
    key = "PRIMARY KEY((key))" if index.unique else "PRIMARY KEY((key), rowid)"
    return (
        f"CREATE TABLE IF NOT EXISTS {ks}.{run_table_name(index.name, run_id)}"
        f" ( key TEXT, rowid BIGINT, {key}) {table_options}"
    ).rstrip()


def run_tables_ddl(ks: str, run_id: int, specs: Iterable[TableSpec]) -> list[str]:
    """DDL of every data and index table of a run; `table_options` applies to both kinds (spec 1.6)."""
    validate_keyspace_name(ks)
    ddl: list[str] = []
    for spec in specs:
        ddl.append(data_table_ddl(ks, spec, run_id))
        ddl.extend(index_table_ddl(ks, idx, run_id, spec.table_options) for idx in spec.indexes)
    return ddl


def create_run_tables(session: Session, ks: str, run_id: int, specs: Iterable[TableSpec]) -> None:
    """Create all tables of a run before any batch message is sent (the driver waits for schema agreement)."""
    for statement in run_tables_ddl(ks, run_id, specs):
        execute_schema(session, statement)
