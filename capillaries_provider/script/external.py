"""Files a script points to that are read when a node runs, not when the script is loaded.

Loading a script (DAG parsing, `capillaries validate`) must not need the py_calc code or tag criteria files to be
reachable; the worker reads them right before processing. Tag criteria from `tag_criteria_url` get the same
validation inline criteria get at load time (bool expressions over `r.*`, errors with a caret).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from capillaries_provider.expr.types import FieldType
from capillaries_provider.script.decode import Decoder
from capillaries_provider.script.errors import ScriptError, ScriptValidationError
from capillaries_provider.script.fetch import Fetcher, default_fetcher
from capillaries_provider.script.model import Expression, Node, Script, TagAndDenormalizeDef
from capillaries_provider.script.validate import expression_error


def tag_criteria(script: Script, node: Node, *, fetcher: Fetcher | None = None) -> Mapping[str, Expression]:
    """The tag -> criterion map of a tag_and_denormalize node: inline, or fetched from `tag_criteria_url`."""
    proc = node.custom_processor
    if not isinstance(proc, TagAndDenormalizeDef):
        raise ValueError(f"node {node.name} is not a tag_and_denormalize node")
    if proc.tag_criteria is not None:
        return proc.tag_criteria
    url = proc.tag_criteria_url
    text = (fetcher or default_fetcher()).read_bytes(url).decode("utf-8", errors="replace")
    if not text.strip():
        raise ScriptValidationError([ScriptError("tag criteria file is empty", file=url, node=node.name)])
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise ScriptValidationError(
            [ScriptError(f"invalid JSON: {e.msg}", file=url, node=node.name, key=f"line {e.lineno} column {e.colno}")]
        ) from e
    if not isinstance(raw, dict):
        raise ScriptValidationError([ScriptError("tag criteria must be a JSON object", file=url, node=node.name)])
    decoder = Decoder(url)
    criteria = decoder.tag_criteria(node.name, raw, "tag_criteria")
    errors = decoder.errors
    env = {"r": script.reader_fields(node)}
    for tag, criterion in criteria.items():
        error = expression_error(criterion, env, FieldType.BOOL, file=url, node=node.name, key=f"tag_criteria.{tag}")
        if error is not None:
            errors.append(error)
    if errors:
        raise ScriptValidationError(errors)
    return criteria
