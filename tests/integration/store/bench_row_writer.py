"""Write-throughput benchmark: RowWriter vs a bare `execute_concurrent_with_args` loop on the same table shape.

Not collected by pytest (no `test_` prefix). Run: `.venv/bin/python tests/integration/store/bench_row_writer.py
[rows]`. The table has 8 fields of mixed types and one non-unique index, so each row is 2 inserts.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
import uuid
from decimal import Decimal

from cassandra.concurrent import execute_concurrent_with_args

from capillaries_provider.config import cassandra_settings
from capillaries_provider.expr.keys import KeyComponent, build_key
from capillaries_provider.expr.types import FieldType
from capillaries_provider.store.session import close, connect, drop_keyspace, ensure_keyspace
from capillaries_provider.store.tables import IndexSpec, TableSpec, create_run_tables
from capillaries_provider.store.values import datetime_to_ms
from capillaries_provider.store.writer import STATEMENTS_PER_BATCH, RowWriter, make_rowid

FIELDS = {
    "id": FieldType.INT,
    "qty": FieldType.INT,
    "price": FieldType.FLOAT,
    "amount": FieldType.DECIMAL2,
    "name": FieldType.STRING,
    "city": FieldType.STRING,
    "active": FieldType.BOOL,
    "ts": FieldType.DATETIME,
}
INDEX = IndexSpec("idx_bench_city", False, (KeyComponent("city", FieldType.STRING),))
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def rows(n: int) -> list[dict]:
    return [
        {
            "id": i,
            "qty": i % 17,
            "price": i / 7,
            "amount": Decimal(i) / 100,
            "name": f"customer {i}",
            "city": f"city {i % 100}",
            "active": i % 2 == 0,
            "ts": T0 + dt.timedelta(seconds=i),
        }
        for i in range(n)
    ]


def main(n: int) -> None:
    settings = cassandra_settings()
    session = connect(settings)
    ks = f"bench_{uuid.uuid4().hex[:8]}"
    ensure_keyspace(session, ks, settings.replication)
    try:
        data = rows(n)
        spec = TableSpec("bench", FIELDS, (INDEX,))
        for run_id in (1, 2, 3):
            create_run_tables(session, ks, run_id, [spec])

        timings = {}
        for run_id, per_batch in ((1, STATEMENTS_PER_BATCH), (3, 1)):
            start, cpu = time.perf_counter(), time.process_time()
            with RowWriter(session, ks, spec, run_id, 0, concurrency=64, statements_per_batch=per_batch) as w:
                for r in data:
                    w.write(r)
            timings[per_batch] = (time.perf_counter() - start, time.process_time() - cpu)

        cols = ", ".join(FIELDS)
        data_stmt = session.prepare(
            f"INSERT INTO {ks}.bench_00002 (rowid, batch_idx, {cols}) VALUES ({', '.join('?' * (len(FIELDS) + 2))})"
        )
        idx_stmt = session.prepare(f"INSERT INTO {ks}.idx_bench_city_00002 (key, rowid) VALUES (?, ?)")
        start, cpu = time.perf_counter(), time.process_time()
        data_params = []
        idx_params = []
        for seq, r in enumerate(data):
            rowid = make_rowid(0, seq)
            data_params.append(
                (
                    rowid,
                    0,
                    r["id"],
                    r["qty"],
                    r["price"],
                    r["amount"],
                    r["name"],
                    r["city"],
                    r["active"],
                    datetime_to_ms(r["ts"]),
                )
            )
            idx_params.append((build_key([r[c.field] for c in INDEX.components], INDEX.components), rowid))
        execute_concurrent_with_args(session, data_stmt, data_params, concurrency=64)
        execute_concurrent_with_args(session, idx_stmt, idx_params, concurrency=64)
        baseline_s, baseline_cpu = time.perf_counter() - start, time.process_time() - cpu

        results = [(f"RowWriter statements_per_batch={b}", secs, c) for b, (secs, c) in timings.items()]
        results.append(("execute_concurrent_with_args", baseline_s, baseline_cpu))
        for name, secs, c in results:
            print(f"rows={n} {name}: {n / secs:,.0f} rows/s, client CPU {c / n * 1e6:.0f} us/row")
    finally:
        drop_keyspace(session, ks)
        close(session)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
