"""py_calc (spec 7.1): user Python formulas computed out of process by a pool of long-lived child interpreters.

code = load_python_code(proc.python_code_urls, fetcher)
program = PyCalcProgram.build(node.name, proc, code, reader_types)
p_values = program.calculate(shared_pool(PyCalcSettings.from_env()), rows)   # one dict per row
"""

from capillaries_provider.engine.pycalc.errors import PyCalcError, PyCalcTimeoutError
from capillaries_provider.engine.pycalc.pool import PyCalcPool, shared_pool
from capillaries_provider.engine.pycalc.program import PyCalcProgram, default_row_label, key_fields_label
from capillaries_provider.engine.pycalc.settings import PyCalcSettings, child_environment
from capillaries_provider.engine.pycalc.translate import (
    PyCalcField,
    check_calls,
    load_python_code,
    python_expression,
    translate_fields,
)

__all__ = [
    "PyCalcError",
    "PyCalcField",
    "PyCalcPool",
    "PyCalcProgram",
    "PyCalcSettings",
    "PyCalcTimeoutError",
    "check_calls",
    "child_environment",
    "default_row_label",
    "key_fields_label",
    "load_python_code",
    "python_expression",
    "shared_pool",
    "translate_fields",
]
