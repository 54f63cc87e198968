"""Loader limits: what one script, params, formula or tag-criteria file may cost to load (docs/reliability.md).

The Airflow dag-processor loads every script named in `dags/` on every parse, so no file may make loading slow or
huge. Expression length and nesting are bounded in the expression layer (`expr.parser`); these bound whole files.
"""

from __future__ import annotations

# Largest file the loader reads: far above any real script (Capillaries' largest sample is under 100 KB), low enough
# that reading and parsing one stays well under a second. Checked before reading.
MAX_DOCUMENT_BYTES = 16 << 20

# Most values a YAML document may hold once its aliases are expanded. Aliases are allowed (Go's yaml.v3 accepts
# them); a document that expands past this (the "billion laughs" shape) is refused before it is expanded.
MAX_YAML_VALUES = 1_000_000
