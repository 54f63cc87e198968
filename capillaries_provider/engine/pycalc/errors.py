"""Errors of py_calc; all of them fail the batch with a message that says where (node, row, field, formula)."""

from __future__ import annotations


class PyCalcError(Exception):
    """py_calc could not produce values for a page of rows (bad code, failing rows, dead child, ...)."""


class PyCalcTimeoutError(PyCalcError):
    """A row ran past execution_timeout and did not stop when interrupted; its child process was killed."""
