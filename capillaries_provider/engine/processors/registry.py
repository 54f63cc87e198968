"""Node type -> processor.

The node types are the six of the spec; three processors are registered here, the others are found on first use
by convention: module `capillaries_provider.engine.processors.<node type>` exposing `run_<node type>(job)`
(e.g. `table_lookup_table.run_table_lookup_table`), which keeps their imports (pyarrow, py_calc) off the common
path. Third-party code does not add node types: it adds custom processor types for `table_custom_tfm_table`
through the `capillaries.processors` entry points (script/plugins.py).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from capillaries_provider.engine.processors.context import BatchJob, BatchStats
from capillaries_provider.engine.processors.file_table import run_file_table
from capillaries_provider.engine.processors.table_file import run_table_file
from capillaries_provider.engine.processors.table_table import run_table_table
from capillaries_provider.script.model import NodeType

Processor = Callable[[BatchJob], BatchStats]

_PROCESSORS: dict[NodeType, Processor] = {
    NodeType.FILE_TABLE: run_file_table,
    NodeType.TABLE_TABLE: run_table_table,
    NodeType.TABLE_FILE: run_table_file,
}


def register(node_type: NodeType, processor: Processor) -> None:
    """Install (or replace) the processor of a node type, e.g. table_lookup_table from its own module."""
    _PROCESSORS[node_type] = processor


def processor_for(node_type: NodeType) -> Processor:
    """The processor of a node type; KeyError with a readable message if none is installed."""
    found = _PROCESSORS.get(node_type)
    if found is not None:
        return found
    module_name = f"{__package__}.{node_type.value}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name != module_name:
            raise
        raise KeyError(f"no processor is installed for node type {node_type.value}") from None
    processor: Processor = getattr(module, f"run_{node_type.value}")
    _PROCESSORS[node_type] = processor
    return processor
