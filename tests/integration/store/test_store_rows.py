"""RowWriter and readers against a real Cassandra: types, idempotent rewrite, token paging, unique indexes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from cassandra.cluster import Session
from cassandra.marshal import int64_pack

from capillaries_provider.expr.keys import KeyComponent
from capillaries_provider.expr.types import INT64_MAX, INT64_MIN, ZERO_TIME, FieldType
from capillaries_provider.store import reader
from capillaries_provider.store.errors import DuplicateKeyError
from capillaries_provider.store.reader import read_index_rowids, read_rows_by_rowid, read_token_range
from capillaries_provider.store.tables import IndexSpec, TableSpec, create_run_tables, run_table_name
from capillaries_provider.store.values import bind_bytes, to_cql_bytes
from capillaries_provider.store.writer import RowWriter, make_rowid

pytestmark = pytest.mark.integration

UTC = dt.UTC
ALL_TYPES = {
    "i": FieldType.INT,
    "f": FieldType.FLOAT,
    "d": FieldType.DECIMAL2,
    "s": FieldType.STRING,
    "b": FieldType.BOOL,
    "t": FieldType.DATETIME,
}
FULL_RANGE = (INT64_MIN, INT64_MAX)
# Spec 1.14 split of the token space into 4 batches.
FOUR_BATCHES = [
    (-9223372036854775808, -4611686018427387906),
    (-4611686018427387905, -3),
    (-2, 4611686018427387900),
    (4611686018427387901, 9223372036854775807),
]


def read_all(session: Session, ks: str, table: str, fields: dict[str, FieldType], rowset: int = 1000) -> list[dict]:
    return [row for page in read_token_range(session, ks, table, fields, *FULL_RANGE, rowset) for row in page]


def test_every_field_type_round_trips(session: Session, keyspace: str) -> None:
    spec = TableSpec("all_types", ALL_TYPES)
    create_run_tables(session, keyspace, 1, [spec])
    rows = [
        # decimal2 is stored through float64 x 100 with Go's math.Round: 1.005 -> 1.00, -1.005 -> -1.00.
        {
            "i": INT64_MAX,
            "f": 1.5,
            "d": Decimal("1.005"),
            "s": "Café ☕",
            "b": True,
            "t": dt.datetime(2024, 2, 29, 13, 14, 15, 123456, tzinfo=UTC),
        },
        {
            "i": INT64_MIN,
            "f": -0.1,
            "d": Decimal("-1.005"),
            "s": "",
            "b": False,
            "t": dt.datetime(1969, 12, 31, 23, 59, 59, 999500, tzinfo=UTC),
        },
        {"i": 0, "f": 1e300, "d": Decimal("2.675"), "s": "x" * 1000, "b": True, "t": ZERO_TIME},
        {
            "i": -7,
            "f": 0.0,
            "d": Decimal("123456.789"),
            "s": "a'b\"c",
            "b": False,
            "t": dt.datetime(2030, 1, 1, 5, 0, 0, 999, tzinfo=dt.timezone(dt.timedelta(hours=5))),
        },
    ]
    with RowWriter(session, keyspace, spec, 1, 0) as w:
        for r in rows:
            w.write(r)
    got = sorted(read_all(session, keyspace, "all_types_00001", ALL_TYPES), key=lambda r: r["i"])
    expected = [
        {
            "i": INT64_MIN,
            "f": -0.1,
            "d": Decimal("-1.00"),
            "s": "",
            "b": False,
            "t": dt.datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
        },
        {
            "i": -7,
            "f": 0.0,
            "d": Decimal("123456.79"),
            "s": "a'b\"c",
            "b": False,
            "t": dt.datetime(2030, 1, 1, 0, 0, 0, 0, tzinfo=UTC),
        },
        {"i": 0, "f": 1e300, "d": Decimal("2.68"), "s": "x" * 1000, "b": True, "t": ZERO_TIME},
        {
            "i": INT64_MAX,
            "f": 1.5,
            "d": Decimal("1.00"),
            "s": "Café ☕",
            "b": True,
            "t": dt.datetime(2024, 2, 29, 13, 14, 15, 123000, tzinfo=UTC),
        },
    ]
    assert got == expected
    assert [str(r["d"]) for r in got] == ["-1.00", "123456.79", "2.68", "1.00"]
    assert all(r["t"].tzinfo is not None for r in got)
    # Only requested fields come back.
    assert read_all(session, keyspace, "all_types_00001", {"b": FieldType.BOOL}, rowset=2)[0].keys() == {"b"}


def test_rewriting_a_batch_gives_identical_tables(session: Session, keyspace: str) -> None:
    spec = TableSpec(
        "orders",
        {"id": FieldType.INT, "name": FieldType.STRING},
        (
            IndexSpec("idx_orders_id", True, (KeyComponent("id", FieldType.INT),)),
            IndexSpec("idx_orders_name", False, (KeyComponent("name", FieldType.STRING),)),
        ),
    )
    create_run_tables(session, keyspace, 2, [spec])

    def write_batch() -> list[int]:
        with RowWriter(session, keyspace, spec, 2, 3, concurrency=8) as w:
            return [w.write({"id": i, "name": f"n{i % 4}"}) for i in range(50)]

    def snapshot() -> tuple[list, list, list]:
        return tuple(  # type: ignore[return-value]
            sorted(tuple(sorted(r.items())) for r in session.execute(f"SELECT * FROM {keyspace}.{t}"))
            for t in ("orders_00002", "idx_orders_id_00002", "idx_orders_name_00002")
        )

    first_ids = write_batch()
    assert first_ids == [make_rowid(3, i) for i in range(50)] == [(3 << 32) + i for i in range(50)]
    before = snapshot()
    assert [len(t) for t in before] == [50, 50, 50]
    assert write_batch() == first_ids  # unique index: same key, same rowid -> accepted
    assert snapshot() == before
    assert {r[("batch_idx")] for r in session.execute(f"SELECT batch_idx FROM {keyspace}.orders_00002")} == {3}


def test_token_range_paging_returns_every_row_once(session: Session, keyspace: str) -> None:
    spec = TableSpec("nums", {"n": FieldType.INT})
    create_run_tables(session, keyspace, 1, [spec])
    for batch in range(4):
        with RowWriter(session, keyspace, spec, 1, batch) as w:
            for i in range(40):
                w.write({"n": batch * 1000 + i})
    expected = sorted(b * 1000 + i for b in range(4) for i in range(40))
    for rowset in (1, 2, 3):
        seen: list[int] = []
        for first, last in FOUR_BATCHES:
            for page in read_token_range(session, keyspace, "nums_00001", spec.fields, first, last, rowset):
                assert 1 <= len(page) <= rowset
                seen.extend(int(r["n"]) for r in page)  # type: ignore[call-overload]
        assert sorted(seen) == expected


def test_unique_index_duplicate_raises_with_key_and_rowids(session: Session, keyspace: str) -> None:
    spec = TableSpec(
        "people",
        {"email": FieldType.STRING},
        (IndexSpec("idx_people_email", True, (KeyComponent("email", FieldType.STRING, str_len=16),)),),
    )
    create_run_tables(session, keyspace, 1, [spec])
    with RowWriter(session, keyspace, spec, 1, 0) as w:
        w.write({"email": "a@x"})
    key = "a@x" + " " * 13
    with pytest.raises(DuplicateKeyError) as info, RowWriter(session, keyspace, spec, 1, 1) as w:
        w.write({"email": "b@x"})
        w.write({"email": "a@x"})
    err = info.value
    assert (err.key, err.existing_rowid, err.new_rowid) == (key, make_rowid(0, 0), make_rowid(1, 1))
    assert repr(key) in str(err) and "idx_people_email_00001" in str(err)
    assert str(make_rowid(0, 0)) in str(err) and str(make_rowid(1, 1)) in str(err)


def test_index_lookups_and_orphans(session: Session, keyspace: str) -> None:
    fields = {"k": FieldType.STRING, "v": FieldType.INT}
    spec = TableSpec("items", fields, (IndexSpec("idx_items_k", False, (KeyComponent("k", FieldType.STRING),)),))
    create_run_tables(session, keyspace, 1, [spec])
    with RowWriter(session, keyspace, spec, 1, 0) as w:
        ids = [w.write({"k": k, "v": v}) for v, k in enumerate(["a", "b", "a", "c", "a"])]
    pad = " " * 63
    # An orphan index entry (its data row was cleaned up) must be skipped by the data read.
    session.execute(
        f"INSERT INTO {keyspace}.{run_table_name('idx_items_k', 1)} (key, rowid) VALUES (%s, %s)", ("c" + pad, 999)
    )
    found = read_index_rowids(session, keyspace, "idx_items_k_00001", ["a" + pad, "c" + pad, "zz", "a" + pad])
    assert {k: list(v) for k, v in found.items()} == {"a" + pad: [ids[0], ids[2], ids[4]], "c" + pad: [ids[3], 999]}
    rows = read_rows_by_rowid(session, keyspace, "items_00001", fields, [999, *ids] + list(range(10, 260)))
    assert rows == {rid: {"k": k, "v": v} for v, (rid, k) in enumerate(zip(ids, "abaca", strict=True))}


def test_binding_serialized_bytes_equals_the_drivers_bind(session: Session, keyspace: str) -> None:
    """`bind_bytes` (used by the writers) gives the statement `bind()` would: same value bytes, same routing key."""
    spec = TableSpec("bind_check", ALL_TYPES)
    create_run_tables(session, keyspace, 1, [spec])
    columns = ["rowid", "batch_idx", *ALL_TYPES]
    prepared = session.prepare(
        f"INSERT INTO {keyspace}.{run_table_name('bind_check', 1)} ({', '.join(columns)})"
        f" VALUES ({', '.join('?' * len(columns))})"
    )
    row = {"i": -3, "f": 2.5, "d": Decimal("9.99"), "s": "ü", "b": True, "t": dt.datetime(2024, 1, 2, tzinfo=UTC)}
    # What the driver is given on its own path: Go's stored forms (decimal2 scale 2, whole milliseconds).
    driver_values = [make_rowid(3, 4), 3, -3, 2.5, Decimal("9.99"), "ü", True, 1704153600000]
    ours = bind_bytes(
        prepared,
        [int64_pack(make_rowid(3, 4)), int64_pack(3), *(to_cql_bytes(t)(row[f]) for f, t in ALL_TYPES.items())],
    )
    theirs = prepared.bind(driver_values)
    assert ours.values == theirs.values
    assert ours.routing_key == theirs.routing_key


def test_index_reads_span_several_in_queries_and_pages(
    session: Session, keyspace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """250 distinct keys (16 `IN` queries) and one key holding 6,000 rowids (7 pages of 1,000 here)."""
    monkeypatch.setattr(reader, "INDEX_FETCH_SIZE", 1000)
    fields = {"k": FieldType.STRING}
    spec = TableSpec(
        "many", fields, (IndexSpec("idx_many_k", False, (KeyComponent("k", FieldType.STRING, str_len=8),)),)
    )
    create_run_tables(session, keyspace, 1, [spec])
    keys = [f"k{i:03d}" for i in range(250)]
    with RowWriter(session, keyspace, spec, 1, 0) as w:
        ids = {k: w.write({"k": k}) for k in keys}
        hot = [w.write({"k": "hot"}) for _ in range(6000)]
    found = read_index_rowids(session, keyspace, "idx_many_k_00001", [k.ljust(8) for k in [*keys, "hot", "none"]])
    assert {k: list(v) for k, v in found.items()} == {**{k.ljust(8): [ids[k]] for k in keys}, "hot".ljust(8): hot}
