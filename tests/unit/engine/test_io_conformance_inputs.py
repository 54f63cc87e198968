"""Every file_table input of the conformance cases reads through its own script's reader settings without a
conversion error, and a few values come out as the Go reader produced them."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
from decimal import Decimal
from pathlib import Path

import pytest

from capillaries_provider.engine.file_reader import Row, iter_file_rows
from capillaries_provider.script.loader import load_script
from capillaries_provider.script.model import Script
from tests.conftest import CONFORMANCE, needs_shared

CASES = [
    "lookup_quicktest",
    "py_calc_quicktest",
    "tag_and_denormalize_quicktest",
    "portfolio_quicktest",
    "fannie_mae_quicktest",
]
MAX_ROWS = 12_000  # covers every file but the 88k-row txns.csv, whose first 12k rows are checked


@functools.cache
def load_case_script(case: str) -> Script:
    """The first variant's script with its params, loaded from the case folder."""
    case_dir = CONFORMANCE / case
    manifest = json.loads((case_dir / "case.json").read_text())
    variant = next(iter(manifest["variants"].values()))
    staged = {s["dst"]: case_dir / s["src"] for s in manifest["stage"]}
    params = staged[variant["params"]] if variant["params"] else None
    return load_script(str(staged[variant["script"]]), str(params) if params else None)


def inputs() -> list[tuple[str, str, Path]]:
    """(case, node, local file) for every url of every file reader."""
    found: list[tuple[str, str, Path]] = []
    for case in CASES:
        if not (CONFORMANCE / case).is_dir():
            continue
        for node_name, node in load_case_script(case).nodes.items():
            if node.file_reader is not None:
                found += [
                    (case, node_name, next((CONFORMANCE / case).rglob(Path(u).name))) for u in node.file_reader.urls
                ]
    return found


INPUTS = inputs() if CONFORMANCE.is_dir() else []
needs_inputs = needs_shared(*(CONFORMANCE / case for case in CASES))


def read(case: str, node: str, local: Path, limit: int) -> list[Row]:
    reader = load_case_script(case).nodes[node].file_reader
    assert reader is not None
    return [row for _, row in itertools.islice(iter_file_rows(local, reader), limit)]


@needs_inputs
@pytest.mark.parametrize(("case", "node", "local"), INPUTS, ids=lambda v: v.name if isinstance(v, Path) else str(v))
def test_conformance_input_reads(case: str, node: str, local: Path) -> None:
    rows = read(case, node, local, MAX_ROWS)
    columns = load_case_script(case).nodes[node].file_reader.columns  # type: ignore[union-attr]
    assert rows and all(set(row) == set(columns) for row in rows)


@needs_inputs
def test_known_values() -> None:
    (orders,) = read("lookup_quicktest", "read_orders", next(p for c, n, p in INPUTS if n == "read_orders"), 1)
    # first data line: 19c6b8d993de74001dc321279b6b5e49,3848865e...,delivered,2018-05-03 05:07:55,...
    assert orders == {
        "col_order_id": "19c6b8d993de74001dc321279b6b5e49",
        "col_order_status": "delivered",
        "col_order_purchase_timestamp": dt.datetime(2018, 5, 3, 5, 7, 55, tzinfo=dt.UTC),
    }
    payments_file = next(p for c, n, p in INPUTS if p.name == "CAS_2023_R08_G1_20231020_000.parquet")
    (payments,) = read("fannie_mae_quicktest", "01_read_payments", payments_file, 1)
    # first row of the file (as pyarrow decodes it): Loan Identifier 136610574, Seller Name "Flagstar Bank, National
    # Association", Original Interest Rate 6.875, Original UPB 490000.00 (INT64 DECIMAL(2,2) written by Capillaries)
    assert payments["col_loan_id"] == 136610574
    assert payments["col_seller_name"] == "Flagstar Bank, National Association"
    assert payments["col_original_interest_rate"] == 6.875
    assert payments["col_original_upb"] == Decimal("490000.00")
