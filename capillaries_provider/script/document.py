"""Parsing script/params text into a plain JSON tree, with Go's decoding rules.

Go decodes YAML by converting it to JSON first and then applies `encoding/json`: unknown keys are ignored and
struct keys match case-insensitively (the last matching key wins). YAML is read with a YAML 1.2-style resolver
(Go's yaml.v3): `yes`/`no`/`on`/`off` and unquoted dates stay strings, and integral floats become integers as they
do after Go's JSON round trip.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

import yaml

from capillaries_provider.script.errors import ScriptError, ScriptValidationError
from capillaries_provider.script.limits import MAX_YAML_VALUES


def format_of(url: str) -> str:
    """'json' or 'yaml' by URL suffix (spec 1.1); anything else is an error."""
    path = url.split("?", 1)[0].split("#", 1)[0]
    if path.endswith(".json"):
        return "json"
    if path.endswith(".yaml"):
        return "yaml"
    raise ScriptValidationError(
        [ScriptError("cannot tell file type from the name: expected a .json or .yaml suffix", file=url)]
    )


class _GoYamlLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema scalars (what Go's yaml.v3 resolves)."""


_GoYamlLoader.yaml_implicit_resolvers = {}
for _tag, _regex, _first in (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
):
    _GoYamlLoader.add_implicit_resolver(_tag, re.compile(_regex), list(_first))


def _yaml_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    if text.startswith("0o"):
        return int(text[2:], 8)
    return int(text, 0) if text.startswith("0x") else int(text)


_GoYamlLoader.add_constructor("tag:yaml.org,2002:int", _yaml_int)


def _from_yaml(value: Any) -> Any:
    """Normalise a YAML tree to what Go's YAML->JSON->decode round trip produces."""
    if isinstance(value, dict):
        return {_key(k): _from_yaml(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_yaml(v) for v in value]
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    return value


def _key(k: Any) -> str:
    if isinstance(k, bool):
        return "true" if k else "false"
    return "null" if k is None else str(k)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_text(text: str, fmt: str, *, file: str) -> Any:
    """Parse JSON or YAML text into a JSON-compatible tree; syntax errors name the line and column."""
    if fmt == "json":
        try:
            return json.loads(text, parse_constant=_reject_constant)
        except json.JSONDecodeError as e:
            raise ScriptValidationError(
                [ScriptError(f"invalid JSON: {e.msg}", file=file, key=f"line {e.lineno} column {e.colno}")]
            ) from e
        except ValueError as e:
            raise ScriptValidationError([ScriptError(f"invalid JSON: {e}", file=file)]) from e
        except RecursionError:
            raise ScriptValidationError([ScriptError("invalid JSON: nested too deeply", file=file)]) from None
    try:
        docs = [d for d in _yaml_documents(text) if d is not None]
        if len(docs) != 1:
            raise _YamlRefused("expected exactly one document")
        return _from_yaml(docs[0])
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark is not None else None
        problem = getattr(e, "problem", None) or str(e)
        raise ScriptValidationError([ScriptError(f"invalid YAML: {problem}", file=file, key=where)]) from e
    except RecursionError:
        raise ScriptValidationError([ScriptError("invalid YAML: nested too deeply", file=file)]) from None


class _YamlRefused(yaml.YAMLError):
    """A well-formed YAML text the loader refuses (the problem names why)."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def _yaml_documents(text: str) -> list[Any]:
    """Every document of `text`, each checked for alias expansion after composing and before constructing."""
    loader = _GoYamlLoader(text)
    try:
        docs = []
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                _check_expansion(node)
                docs.append(loader.construct_document(node))
        return docs
    finally:
        loader.dispose()


def _yaml_children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a document whose aliases expand it past MAX_YAML_VALUES or make it contain itself.

    Aliases compose to shared nodes, so each node's expanded size is counted once (depth-first, no recursion).
    """
    sizes: dict[int, int] = {}
    entered: set[int] = set()  # nodes on the current path: meeting one again is a cycle
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            entered.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in _yaml_children(node))
            if sizes[key] > MAX_YAML_VALUES:
                raise _YamlRefused(f"aliases expand the document to more than {MAX_YAML_VALUES:,} values")
        elif key in entered:
            raise _YamlRefused("an alias refers to a node that contains it (a recursive document)")
        elif key not in sizes:
            entered.add(key)
            stack.append((node, True))
            stack.extend((c, False) for c in _yaml_children(node))


_MISSING: Any = object()


def get_key(obj: Mapping[str, Any], name: str) -> Any:
    """Go struct-field lookup: the last key equal to `name` ignoring case; `_MISSING` when there is none."""
    found = _MISSING
    lname = name.lower()
    for k, v in obj.items():
        if k == name or k.lower() == lname:
            found = v
    return found


def is_missing(value: Any) -> bool:
    return value is _MISSING
