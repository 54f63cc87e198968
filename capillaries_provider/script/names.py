"""Names a script gives to keyspaces, tables, fields, indexes and file columns: the one check every layer uses.

`capillaries validate`, the DAG factory (both through the script loader) and the worker (before splicing a name
into CQL) call these same functions, so a name that loads also runs. Cassandra identifiers are spliced unquoted,
hence the strict alphabet; it is what Capillaries' own scripts use.
"""

from __future__ import annotations

import re

_KEYSPACE_RE = re.compile(r"[A-Za-z0-9_]{1,48}")
_IDENTIFIER_RE = re.compile(r"[A-Za-z0-9_]+")


def keyspace_name_problem(ks: str) -> str | None:
    """Why `ks` cannot be a keyspace name, or None if it can.

    Stricter than Go's regex *search* (spec 3.1): the whole name must be `[A-Za-z0-9_]`, at most 48 characters
    (Cassandra's limit), so the name can be spliced into CQL safely; names starting with `system` stay reserved.
    """
    if not _KEYSPACE_RE.fullmatch(ks):
        return f"invalid keyspace name {ks!r}: use 1-48 characters from [A-Za-z0-9_]"
    if ks.lower().startswith("system"):
        return f"invalid keyspace name {ks!r}: names starting with 'system' are reserved"
    return None


def identifier_problem(name: str, what: str) -> str | None:
    """Why `name` cannot be a `what` (table, field, index, file column) name, or None if it can."""
    if not _IDENTIFIER_RE.fullmatch(name):
        return f"invalid {what} name {name!r}: use characters from [A-Za-z0-9_]"
    return None


def validate_keyspace_name(ks: str) -> str:
    """Return `ks` if usable as an unquoted keyspace name, else raise ValueError."""
    problem = keyspace_name_problem(ks)
    if problem:
        raise ValueError(problem)
    return ks


def validate_identifier(name: str, what: str) -> str:
    """Return `name` if it is a safe unquoted CQL identifier, else raise ValueError naming `what`."""
    problem = identifier_problem(name, what)
    if problem:
        raise ValueError(problem)
    return name
