"""py_calc settings from the environment (Go's CAPI_PYCALC_* names and ours) and the child's minimal environment."""

from __future__ import annotations

import sys

import pytest

from capillaries_provider.engine.pycalc import PyCalcSettings, child_environment
from capillaries_provider.engine.pycalc.settings import parse_interpreter_params


def test_go_style_params_drop_the_stdin_dash() -> None:
    assert parse_interpreter_params('["-u", "-"]') == ("-u",)
    assert parse_interpreter_params("-u -X utf8") == ("-u", "-X", "utf8")
    assert parse_interpreter_params("") == ()
    with pytest.raises(ValueError, match="list of strings"):
        parse_interpreter_params("[1, 2]")


def test_from_env_reads_go_names_and_ours_win() -> None:
    env = {
        "CAPI_PYCALC_INTERPRETER_PATH": "/usr/bin/python3",
        "CAPI_PYCALC_EXECUTION_TIMEOUT": "7000",
        "CAPILLARIES_PYCALC_EXECUTION_TIMEOUT_MS": "9000",
        "CAPILLARIES_PYCALC_MEMORY_LIMIT_MB": "512",
        "CAPILLARIES_PYCALC_MAX_PROCESSES": "3",
    }
    s = PyCalcSettings.from_env(env)
    assert (s.interpreter_path, s.execution_timeout_ms, s.memory_limit_mb, s.max_processes) == (
        "/usr/bin/python3",
        9000,
        512,
        3,
    )
    default = PyCalcSettings.from_env({})
    assert default.interpreter_path == sys.executable
    assert default.execution_timeout_ms == 60_000
    with pytest.raises(ValueError, match="execution_timeout"):
        PyCalcSettings(execution_timeout_ms=0)


def test_child_environment_keeps_only_the_allowlist() -> None:
    env = {
        "PATH": "/bin",
        "HOME": "/home/w",
        "CAPILLARIES_CASSANDRA_PASSWORD": "s3cret",
        "AIRFLOW_CONN_CAPILLARIES": "cassandra://u:p@h",
        "AWS_SECRET_ACCESS_KEY": "k",
        "CAPILLARIES_AMQP_URL": "amqp://guest:guest@h",
    }
    child = child_environment(env)
    assert child == {"PATH": "/bin", "HOME": "/home/w", "PYTHONIOENCODING": "utf-8", "PYTHONDONTWRITEBYTECODE": "1"}
