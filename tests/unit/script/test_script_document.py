"""JSON/YAML parsing with Go's rules (yaml.v3 scalars, YAML -> JSON round trip, case-insensitive struct keys)."""

from __future__ import annotations

import pytest

from capillaries_provider.script.document import format_of, get_key, is_missing, parse_text
from capillaries_provider.script.errors import ScriptValidationError


def test_yaml_scalars_follow_yaml_1_2() -> None:
    text = "a: yes\nb: 2016-01-01\nc: 10.0\nd: 0x1F\ne: null\nf: TRUE\ng: 1.5\nh: off\ni: 0o17\nj: ~\nk: 1e3\n"
    assert parse_text(text, "yaml", file="x.yaml") == {
        "a": "yes",
        "b": "2016-01-01",
        "c": 10,
        "d": 31,
        "e": None,
        "f": True,
        "g": 1.5,
        "h": "off",
        "i": 15,
        "j": None,
        "k": 1000,
    }


def test_yaml_non_string_keys_become_strings() -> None:
    assert parse_text("2021: a\ntrue: b\n", "yaml", file="x.yaml") == {"2021": "a", "true": "b"}


def test_yaml_errors_name_line_and_column() -> None:
    with pytest.raises(ScriptValidationError) as info:
        parse_text("a:\n  b: [1,\n", "yaml", file="x.yaml")
    assert info.value.errors[0].key is not None and info.value.errors[0].key.startswith("line ")


def test_yaml_needs_exactly_one_document() -> None:
    with pytest.raises(ScriptValidationError, match="exactly one document"):
        parse_text("a: 1\n---\nb: 2\n", "yaml", file="x.yaml")


def test_json_rejects_nan_and_reports_position() -> None:
    with pytest.raises(ScriptValidationError, match="NaN is not valid JSON"):
        parse_text('{"a": NaN}', "json", file="x.json")
    with pytest.raises(ScriptValidationError) as info:
        parse_text('{\n "a": 1,\n}', "json", file="x.json")
    assert info.value.errors[0].key == "line 3 column 1"


def test_format_by_suffix() -> None:
    assert format_of("/a/b.json") == "json"
    assert format_of("https://h/b.yaml?x=1") == "yaml"
    with pytest.raises(ScriptValidationError, match=r"expected a \.json or \.yaml suffix"):
        format_of("/a/b.yml")


def test_get_key_is_case_insensitive_and_last_wins() -> None:
    assert get_key({"Name": 1, "NAME": 2}, "name") == 2
    assert get_key({"name": 1, "Name": 2}, "name") == 2
    assert is_missing(get_key({"x": 1}, "name"))
