"""Error bases for file input and output, so a processor can turn any of them into a failed-batch message.

Every concrete error (tokenizer, cell conversion, layout, Parquet) derives from one of these and already names the
file and the line/row (and the column where there is one).
"""

from __future__ import annotations


class FileReadError(ValueError):
    """Input that Capillaries cannot read: bad CSV records or cells, unsupported or missing Parquet columns."""


class FileWriteError(ValueError):
    """Output that cannot be written (a value that does not fit the column's file type)."""
