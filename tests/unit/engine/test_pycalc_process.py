"""py_calc out of process: conformance formulas, isolation, timeouts, crashes and error messages (spec 7.1)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path

import pytest

from capillaries_provider import telemetry
from capillaries_provider.engine.pycalc import (
    PyCalcError,
    PyCalcField,
    PyCalcPool,
    PyCalcProgram,
    PyCalcSettings,
    PyCalcTimeoutError,
    key_fields_label,
    python_expression,
)
from capillaries_provider.expr.types import FieldType, Value
from capillaries_provider.telemetry import PyCalcKillReason
from tests.conftest import CONFORMANCE, needs_shared

UTC = dt.UTC
CONFORMANCE_PY = CONFORMANCE / "py_calc_quicktest/test/data/cfg/py_calc/py/calc_order_items_code.py"

HELPERS = """import os, sys

def pid():
    return os.getpid()

def env_has(name):
    return name in os.environ

def kind(x):
    return type(x).__name__

def length(s):
    return len(s)

def negate(b):
    return not b

def spin(x):
    while True:
        try:
            pass
        except Exception:
            pass

def stubborn(x):
    import signal
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    while True:
        pass

def fail(x):
    return 1 / x

def bye(x):
    sys.exit(7)

def die(x):
    os._exit(3)

def chatty(x):
    print("--FMOK:0 garbage", x)
    print(x, file=sys.stderr)
    return x

def hog(x):
    return len(bytearray(x * 1024 * 1024))

def ident(x):
    return x
"""


def _program(
    fields: dict[str, tuple[str, FieldType]], reader: Mapping[str, FieldType], code: str = HELPERS
) -> PyCalcProgram:
    calc = [PyCalcField(n, t, text, python_expression(text)) for n, (text, t) in fields.items()]
    return PyCalcProgram("test_node", code, calc, reader)


@pytest.fixture(scope="module")
def pool() -> Iterator[PyCalcPool]:
    p = PyCalcPool(PyCalcSettings(memory_limit_mb=1024, max_processes=2))
    yield p
    p.close()


@needs_shared(CONFORMANCE_PY)
def test_conformance_py_calc_formulas_match_the_go_baseline(pool: PyCalcPool) -> None:
    # Rows 1 and 4 of taxed_order_items_py_baseline.csv (inputs from olist_order_items_dataset*.csv).
    fields = {
        "taxed_value": ("increase_by_ten_percent(r.value)", FieldType.DECIMAL2),
        "taxed_value_divided_by_nine_float": ("divide_by_three(divide_by_three(p.taxed_value))", FieldType.FLOAT),
        "taxed_value_divided_by_nine_decimal": ("divide_by_three(divide_by_three(p.taxed_value))", FieldType.DECIMAL2),
        "shipping_limit_date_monday": ("next_local_monday(r.shipping_limit_date)", FieldType.DATETIME),
        "shipping_limit_day_of_week": ("day_of_week(r.shipping_limit_date)", FieldType.STRING),
        "shipping_limit_is_weekend": ("is_weekend(r.shipping_limit_date)", FieldType.BOOL),
    }
    reader = {"value": FieldType.DECIMAL2, "shipping_limit_date": FieldType.DATETIME}
    program = _program(fields, reader, CONFORMANCE_PY.read_text() + "\n")
    rows: list[dict[str, Value]] = [
        {"value": Decimal("101.78"), "shipping_limit_date": dt.datetime(2020, 1, 30, 20, 43, 11, tzinfo=UTC)},
        {"value": Decimal("316.97"), "shipping_limit_date": dt.datetime(2020, 2, 5, 16, 33, 42, tzinfo=UTC)},
    ]
    first, fourth = program.calculate(pool, rows)
    assert first["taxed_value"] == Decimal("111.95")
    assert f"{first['taxed_value_divided_by_nine_float']:f}" == "12.438889"
    assert first["taxed_value_divided_by_nine_decimal"] == Decimal("12.44")
    assert first["shipping_limit_date_monday"] == dt.datetime(2020, 2, 3, 23, 59, 59, 999000, tzinfo=UTC)
    assert first["shipping_limit_day_of_week"] == "Thursday"
    assert first["shipping_limit_is_weekend"] is False
    assert fourth["taxed_value"] == Decimal("348.66")
    assert f"{fourth['taxed_value_divided_by_nine_float']:f}" == "38.740000"
    assert fourth["taxed_value_divided_by_nine_decimal"] == Decimal("38.74")
    assert fourth["shipping_limit_date_monday"] == dt.datetime(2020, 2, 10, 23, 59, 59, 999000, tzinfo=UTC)
    assert fourth["shipping_limit_day_of_week"] == "Wednesday"


def test_runs_in_a_reused_child_without_secrets(pool: PyCalcPool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAPILLARIES_CASSANDRA_PASSWORD", "secret")
    monkeypatch.setenv("AIRFLOW_CONN_CAPILLARIES", "cassandra://u:p@h")
    program = _program(
        {
            "pid": ("pid()", FieldType.INT),
            "pw": ('env_has("CAPILLARIES_CASSANDRA_PASSWORD")', FieldType.BOOL),
            "conn": ('env_has("AIRFLOW_CONN_CAPILLARIES")', FieldType.BOOL),
            "path": ('env_has("PATH")', FieldType.BOOL),
        },
        {"x": FieldType.INT},
    )
    first = program.calculate(pool, [{"x": 1}])[0]
    second = program.calculate(pool, [{"x": 2}])[0]
    assert first["pid"] != os.getpid()
    assert first["pid"] == second["pid"]  # long-lived: one child serves page after page
    assert (first["pw"], first["conn"], first["path"]) == (False, False, True)


def test_values_reach_python_as_go_rendered_them_except_bools(pool: PyCalcPool) -> None:
    program = _program(
        {
            "b_kind": ("kind(r.b)", FieldType.STRING),
            "not_b": ("negate(r.b)", FieldType.BOOL),
            "whole_dec": ("kind(r.whole)", FieldType.STRING),
            "frac_dec": ("kind(r.frac)", FieldType.STRING),
            "f6": ("ident(r.f)", FieldType.FLOAT),
            "escaped_len": ("length(r.s)", FieldType.INT),
            "quote": ("ident(r.q)", FieldType.STRING),
            "ts": ("ident(r.t)", FieldType.STRING),
        },
        {
            "b": FieldType.BOOL,
            "whole": FieldType.DECIMAL2,
            "frac": FieldType.DECIMAL2,
            "f": FieldType.FLOAT,
            "s": FieldType.STRING,
            "q": FieldType.STRING,
            "t": FieldType.DATETIME,
        },
    )
    row: dict[str, Value] = {
        "b": True,
        "whole": Decimal("10.00"),
        "frac": Decimal("12.30"),
        "f": 1 / 3,
        "s": "a\\nb",  # backslash + n: Go's '...' literal makes Python see a newline
        "q": "it's",
        "t": dt.datetime(2021, 3, 4, 5, 6, 7, 890000, tzinfo=UTC),
    }
    got = program.calculate(pool, [row])[0]
    assert got["b_kind"] == "bool" and got["not_b"] is False
    assert (got["whole_dec"], got["frac_dec"]) == ("int", "float")
    assert got["f6"] == 0.333333
    assert got["escaped_len"] == 3
    assert got["quote"] == "it's"
    assert got["ts"] == "2021-03-04T05:06:07.890+00:00"


def test_printing_user_code_cannot_corrupt_the_protocol(pool: PyCalcPool) -> None:
    program = _program({"v": ("chatty(r.x)", FieldType.INT)}, {"x": FieldType.INT})
    assert [r["v"] for r in program.calculate(pool, [{"x": 1}, {"x": 2}])] == [1, 2]


def test_a_raising_formula_names_node_row_field_and_formula(pool: PyCalcPool) -> None:
    program = _program(
        {"ok": ("ident(r.x)", FieldType.INT), "inv": ("fail(r.x)", FieldType.FLOAT)},
        {"x": FieldType.INT, "id": FieldType.STRING},
    )
    rows: list[dict[str, Value]] = [{"x": 2, "id": "a"}, {"x": 0, "id": "b"}, {"x": 0, "id": "c"}]
    with pytest.raises(PyCalcError) as err:
        program.calculate(pool, rows, row_label=key_fields_label(["id"]))
    text = str(err.value)
    assert text.startswith("node test_node: py_calc failed for 2 of 3 rows:")
    assert "row 1 {id='b'}, p.inv = fail(r.x): ZeroDivisionError: division by zero" in text
    assert "row 2 {id='c'}" in text
    assert "in fail" in text  # the user's frame is kept
    assert "child_main.py" not in text  # ours are not


def test_result_of_the_wrong_type_fails_the_row(pool: PyCalcPool) -> None:
    program = _program({"n": ("kind(r.x)", FieldType.INT)}, {"x": FieldType.INT})
    with pytest.raises(PyCalcError, match=r"row 0 \{x=1\}, p.n = kind\(r.x\): expected a number for a int field"):
        program.calculate(pool, [{"x": 1}])


def test_sys_exit_fails_the_row_and_os_exit_fails_the_page_then_the_pool_recovers(pool: PyCalcPool) -> None:
    exiting = _program({"v": ("bye(r.x)", FieldType.INT)}, {"x": FieldType.INT})
    with pytest.raises(PyCalcError, match="p.v = bye\\(r.x\\): SystemExit: 7"):
        exiting.calculate(pool, [{"x": 1}])
    dying = _program({"v": ("die(r.x)", FieldType.INT)}, {"x": FieldType.INT})
    with pytest.raises(PyCalcError, match=r"exited unexpectedly \(exit code 3\)"):
        dying.calculate(pool, [{"x": 1}])
    healthy = _program({"v": ("ident(r.x)", FieldType.INT)}, {"x": FieldType.INT})
    assert healthy.calculate(pool, [{"x": 5}]) == [{"v": 5}]


def test_an_infinite_loop_fails_its_row_at_the_timeout_and_the_child_survives(pool: PyCalcPool) -> None:
    pid = _program({"p": ("pid()", FieldType.INT)}, {"x": FieldType.INT})
    before = pid.calculate(pool, [{"x": 0}])[0]["p"]
    looping = _program({"v": ("spin(r.x)", FieldType.INT)}, {"x": FieldType.INT})
    started = time.monotonic()
    with pytest.raises(PyCalcError) as err:
        looping.calculate(pool, [{"x": 1}, {"x": 2}], timeout_s=0.3)
    assert time.monotonic() - started < 3
    text = str(err.value)
    assert "py_calc failed for 2 of 2 rows" in text
    assert "row 0 {x=1}, p.v = spin(r.x): RowTimeout: the row took longer than 300 ms (execution_timeout)" in text
    assert pid.calculate(pool, [{"x": 0}])[0]["p"] == before  # interrupted, not killed


def test_a_loop_that_ignores_the_interruption_is_killed_and_the_pool_recovers(pool: PyCalcPool) -> None:
    pid = _program({"p": ("pid()", FieldType.INT)}, {"x": FieldType.INT})
    before = pid.calculate(pool, [{"x": 0}])[0]["p"]
    stubborn = _program({"v": ("stubborn(r.x)", FieldType.INT)}, {"x": FieldType.INT})
    started = time.monotonic()
    with pytest.raises(PyCalcTimeoutError, match="did not finish within 600 ms and did not stop when interrupted"):
        pool.run(stubborn.request([{"x": 1}], 0.3), 0.6)
    assert time.monotonic() - started < 3
    with pytest.raises(ProcessLookupError):
        os.kill(int(before), 0)  # type: ignore[arg-type]
    assert pid.calculate(pool, [{"x": 0}])[0]["p"] != before


def test_memory_limit_turns_a_huge_allocation_into_a_row_error(pool: PyCalcPool) -> None:
    program = _program({"v": ("hog(r.mb)", FieldType.INT)}, {"mb": FieldType.INT})
    with pytest.raises(PyCalcError, match="MemoryError"):
        program.calculate(pool, [{"mb": 4096}])
    assert program.calculate(pool, [{"mb": 1}]) == [{"v": 1024 * 1024}]


def test_module_level_failure_and_syntax_errors_fail_the_page_with_source(pool: PyCalcPool) -> None:
    raising = _program(
        {"v": ("ident(r.x)", FieldType.INT)}, {"x": FieldType.INT}, HELPERS + "raise ValueError('boom')\n"
    )
    with pytest.raises(PyCalcError, match="raised while loading") as err:
        raising.calculate(pool, [{"x": 1}])
    line = HELPERS.count("\n") + 1
    assert f'File "<python_code_urls>", line {line}, in <module>\nValueError: boom' in str(err.value)
    assert f">{line:5d}: raise ValueError('boom')" in str(err.value)
    assert "child_main.py" not in str(err.value)
    broken = _program({"v": ("ident(r.x)", FieldType.INT)}, {"x": FieldType.INT}, "def ident(x):\n    return (x\n")
    with pytest.raises(PyCalcError, match="does not compile") as err:
        broken.calculate(pool, [{"x": 1}])
    assert "SyntaxError" in str(err.value)
    assert "    1: def ident(x):" in str(err.value)


def test_missing_interpreter_is_a_clear_error() -> None:
    missing = PyCalcPool(PyCalcSettings(interpreter_path="/nonexistent/python3"))
    program = _program({"v": ("ident(r.x)", FieldType.INT)}, {"x": FieldType.INT})
    with pytest.raises(PyCalcError, match="cannot start the py_calc interpreter '/nonexistent/python3'"):
        program.calculate(missing, [{"x": 1}])


def test_a_busy_child_dies_with_its_worker(tmp_path: Path) -> None:
    # A worker whose child is stuck in user code (deaf to the row alarm) is killed without any cleanup: the child
    # never reads the closed pipe, only the parent-death signal can stop it.
    script = tmp_path / "worker.py"
    script.write_text(
        "from capillaries_provider.engine.pycalc import PyCalcField, PyCalcPool, PyCalcProgram, PyCalcSettings\n"
        "from capillaries_provider.expr.types import FieldType\n"
        "code = 'import os, signal\\ndef pid():\\n    return os.getpid()\\n'\n"
        "code += 'def hang():\\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\\n'\n"
        "code += '    while True:\\n        pass\\n'\n"
        "pool = PyCalcPool(PyCalcSettings())\n"
        "pid = PyCalcProgram('n', code, [PyCalcField('p', FieldType.INT, 'pid()', 'pid()')], {})\n"
        "print(pid.calculate(pool, [{}])[0]['p'], flush=True)\n"
        "hang = PyCalcProgram('n', code, [PyCalcField('p', FieldType.INT, 'hang()', 'hang()')], {})\n"
        "hang.calculate(pool, [{}], timeout_s=600)\n"
    )
    worker = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert worker.stdout is not None
    child_pid = int(worker.stdout.readline())
    time.sleep(0.5)  # let the child enter hang()
    os.kill(child_pid, 0)  # alive while the worker lives
    worker.kill()
    worker.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(child_pid, 9)
        pytest.fail(f"py_calc child {child_pid} outlived its worker")


class _Events:
    """A telemetry sink that remembers the py_calc events."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def cassandra_retry(self, error: BaseException) -> None:
        self.seen.append("retry")

    def pycalc_child_started(self) -> None:
        self.seen.append("started")

    def pycalc_child_killed(self, reason: PyCalcKillReason) -> None:
        self.seen.append(f"killed:{reason}")


def test_child_starts_and_kills_are_reported_for_the_worker_metrics() -> None:
    events = _Events()
    telemetry.install(events)
    fresh = PyCalcPool(PyCalcSettings(memory_limit_mb=1024, max_processes=1))
    try:
        healthy = _program({"v": ("ident(r.x)", FieldType.INT)}, {"x": FieldType.INT})
        assert healthy.calculate(fresh, [{"x": 5}]) == [{"v": 5}]
        assert healthy.calculate(fresh, [{"x": 6}]) == [{"v": 6}]  # reused: no second start
        stubborn = _program({"v": ("stubborn(r.x)", FieldType.INT)}, {"x": FieldType.INT})
        with pytest.raises(PyCalcTimeoutError):
            fresh.run(stubborn.request([{"x": 1}], 0.3), 0.6)
        dying = _program({"v": ("die(r.x)", FieldType.INT)}, {"x": FieldType.INT})
        with pytest.raises(PyCalcError):
            dying.calculate(fresh, [{"x": 1}])
    finally:
        telemetry.install(None)
        fresh.close()
    assert events.seen == ["started", "killed:timeout", "started", "killed:failure"]
