"""Loading a script: fetch, substitute params, parse, decode, validate (spec 1.1, 1.12).

`load_script(url, params_url)` is the one entry point every layer uses (worker, CLI, DAG factory). It returns a
fully validated `Script` or raises `ScriptValidationError` listing every problem, or `ScriptFetchError` when a
file could not be read. Files referenced by the script (py_calc code, tag criteria, input data) are not read here.
"""

from __future__ import annotations

from collections.abc import Mapping

from capillaries_provider.script.decode import Decoder
from capillaries_provider.script.document import format_of, parse_text
from capillaries_provider.script.errors import ScriptError, ScriptValidationError
from capillaries_provider.script.fetch import Fetcher, default_fetcher
from capillaries_provider.script.model import Script
from capillaries_provider.script.params import substitute
from capillaries_provider.script.validate import validate


def _decode_utf8(data: bytes, url: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ScriptValidationError([ScriptError(f"file is not valid UTF-8: {e}", file=url)]) from e


def load_params(params_url: str, *, fetcher: Fetcher | None = None) -> dict[str, object]:
    """Read a params file (JSON or YAML by suffix): a flat map name -> value."""
    fmt = format_of(params_url)
    text = _decode_utf8((fetcher or default_fetcher()).read_bytes(params_url), params_url)
    tree = parse_text(text, fmt, file=params_url)
    if not isinstance(tree, dict):
        raise ScriptValidationError([ScriptError("params file must contain a JSON/YAML object", file=params_url)])
    return tree


def load_script_text(
    text: str, *, fmt: str, params: Mapping[str, object] | None = None, file: str = "<script>"
) -> Script:
    """Load a script from its text (`fmt` 'json' or 'yaml') and an already-read params map."""
    substituted = substitute(text, params, file=file)
    tree = parse_text(substituted, fmt, file=file)
    decoder = Decoder(file)
    script = decoder.script(tree)
    errors = decoder.errors
    validate(script, errors, decoder.gaps)
    if errors:
        raise ScriptValidationError(errors)
    return script


def load_script(script_url: str, params_url: str | None = None, *, fetcher: Fetcher | None = None) -> Script:
    """Fetch, substitute, parse and validate a script; `params_url` may be None or "" (no params)."""
    fetcher = fetcher or default_fetcher()
    fmt = format_of(script_url)
    params = load_params(params_url, fetcher=fetcher) if params_url else None
    text = _decode_utf8(fetcher.read_bytes(script_url), script_url)
    return load_script_text(text, fmt=fmt, params=params, file=script_url)
