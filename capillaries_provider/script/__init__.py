"""Script layer: load a Capillaries script (JSON/YAML + params), validate it, and answer graph questions.

Pure: reads files only through a `Fetcher`, never touches Cassandra, RabbitMQ or Airflow.
"""

from capillaries_provider.script.errors import (
    Problem,
    ScriptError,
    ScriptFetchError,
    ScriptLoadError,
    ScriptValidationError,
)
from capillaries_provider.script.loader import load_params, load_script, load_script_text
from capillaries_provider.script.model import Node, NodeType, Script

__all__ = [
    "Node",
    "NodeType",
    "Problem",
    "Script",
    "ScriptError",
    "ScriptFetchError",
    "ScriptLoadError",
    "ScriptValidationError",
    "load_params",
    "load_script",
    "load_script_text",
]
