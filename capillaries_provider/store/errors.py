"""Errors of the store layer; which driver errors are transient is `retry.cassandra_transient`'s to say."""

from __future__ import annotations


class StoreError(Exception):
    """Base class of errors raised by the store layer."""


class RowWriteError(StoreError):
    """A row (or one of its index entries) could not be written; the message names table, rowid and values."""


class DuplicateKeyError(RowWriteError):
    """A unique index already holds the key for a different row."""

    def __init__(self, index_table: str, key: str, existing_rowid: int, new_rowid: int) -> None:
        super().__init__(
            f"duplicate key in unique index {index_table}: key {key!r} already points to rowid {existing_rowid},"
            f" cannot insert rowid {new_rowid}"
        )
        self.index_table = index_table
        self.key = key
        self.existing_rowid = existing_rowid
        self.new_rowid = new_rowid
