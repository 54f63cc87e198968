"""Which errors a worker retries and which fail the batch: a wrong answer either hangs runs or drops them.

A transient error (Cassandra or the broker away) leaves the batch `start` and redelivers the message; a permanent
one must record `fail` with its message. File-system errors of user inputs and outputs are permanent: retrying a
missing input file forever keeps the batch in `start` and the run never completes (found with the corpus cases
run_missing_input_file, run_input_is_a_directory, run_output_folder_not_writable, run_py_calc_code_missing).
"""

from __future__ import annotations

import pytest
from cassandra.cluster import NoHostAvailable

from capillaries_provider.worker.backend import CassandraBackend

# is_transient needs no connection; the instance is never connected.
BACKEND = object.__new__(CassandraBackend)


@pytest.mark.parametrize(
    "exc",
    [
        FileNotFoundError(2, "No such file or directory", "/data/in.csv"),
        IsADirectoryError(21, "Is a directory", "/data"),
        NotADirectoryError(20, "Not a directory", "/data/in.csv/out.csv"),
        FileExistsError(17, "File exists", "/data/in.csv"),
        PermissionError(13, "Permission denied", "/out/x.csv"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_file_errors_of_a_batch_are_permanent(exc: OSError) -> None:
    assert not BACKEND.is_transient(exc)
    wrapped = ValueError("reading /data/in.csv failed")
    wrapped.__cause__ = exc
    assert not BACKEND.is_transient(wrapped)


@pytest.mark.parametrize(
    "exc",
    [NoHostAvailable("Unable to connect to any servers", {}), ConnectionRefusedError(111, "Connection refused")],
    ids=lambda e: type(e).__name__,
)
def test_unreachable_services_are_transient(exc: Exception) -> None:
    assert BACKEND.is_transient(exc)
