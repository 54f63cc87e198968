"""Capillaries as an Apache Airflow provider.

Heavy names are imported lazily so that provider discovery and `capillaries` CLI start-up stay cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "CapillariesDag": "capillaries_provider.dag",
    "CapillariesTaskGroup": "capillaries_provider.dag",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'capillaries_provider' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
