"""Textual parameter substitution (spec 1.1); expected strings are what Go's loader produces."""

from __future__ import annotations

import pytest

from capillaries_provider.script.errors import Problem, ScriptValidationError
from capillaries_provider.script.params import normalize_refs, runtime_url, substitute


def test_normalize_untyped_and_spaced_refs() -> None:
    assert normalize_refs('"{ dir }/a {x} {y | number} {z|bool }"') == '"{dir|string}/a {x|string} {y|number} {z|bool}"'


def test_string_param_inside_longer_string() -> None:
    assert substitute('{"u": "{dir_in}/file.csv"}', {"dir_in": "/data"}) == '{"u": "/data/file.csv"}'


def test_string_param_is_not_json_escaped_but_newline_is_reescaped() -> None:
    out = substitute('{"a": "{s}"}', {"s": 'x"y\\z\nw'})
    assert out == '{"a": "x"y\\z\\nw"}'


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (10, "10"),
        (10.0, "10"),
        (-3, "-3"),
        (10.5, "10.500000"),
        (0.1234567, "0.123457"),
        (2**53 + 1, "9007199254740992"),
    ],
)
def test_number_param_replaces_quotes_too(value: float, expected: str) -> None:
    assert substitute('{"n": "{n|number}"}', {"n": value}) == '{"n": ' + expected + "}"


def test_bool_and_stringlist_params() -> None:
    text = '{"b": "{b|bool}", "c": "{c | bool}", "l": "{l|stringlist}"}'
    out = substitute(text, {"b": True, "c": False, "l": ["a", "b c"]})
    assert out == '{"b": true, "c": false, "l": ["a","b c"]}'


def test_replacement_is_simultaneous() -> None:
    # a value that looks like another reference is not substituted again
    assert substitute('"{a}{b}"', {"a": "{b}", "b": "x"}) == '"{b}x"'


@pytest.mark.parametrize("text", ['{"n": {n|number}}', '{"n": "{n|number} "}', '{"n": " {n|number}"}'])
def test_number_ref_must_be_exactly_quoted(text: str) -> None:
    with pytest.raises(ScriptValidationError) as info:
        substitute(text, {"n": 1})
    assert "extra characters between curly braces and double quotes" in str(info.value)
    assert info.value.problem is Problem.PARAMS


def test_unresolved_refs_are_all_listed_with_lines() -> None:
    with pytest.raises(ScriptValidationError) as info:
        substitute('{\n"a": "{x}",\n"b": "{y|number}"}', {})
    keys = [e.key for e in info.value.errors]
    assert keys == ["line 2", "line 3"]
    assert "{x|string}" in info.value.errors[0].message
    assert "{y|number}" in info.value.errors[1].message


def test_type_mismatch_leaves_ref_unresolved_with_hint() -> None:
    with pytest.raises(ScriptValidationError) as info:
        substitute('"{n|number}"', {"n": "4"})
    assert "param 'n' is a string, not a number" in str(info.value)


def test_reserved_batch_idx_and_run_id_are_kept_for_runtime() -> None:
    out = substitute('"{dir}/out_{batch_idx}_{ run_id }.csv"', {"dir": "/o"})
    assert out == '"/o/out_{batch_idx|string}_{run_id|string}.csv"'
    assert runtime_url(out.strip('"'), batch_idx=3, run_id=12) == "/o/out_00003_00012.csv"


def test_run_id_defined_as_param_is_replaced_statically() -> None:
    assert substitute('"{run_id}"', {"run_id": "7"}) == '"7"'


def test_empty_stringlist_is_a_clear_error_not_a_crash() -> None:
    with pytest.raises(ScriptValidationError, match="param 'urls' is an empty list"):
        substitute('{"u": "{urls|stringlist}"}', {"urls": []})


@pytest.mark.parametrize("value", [None, {"a": 1}, [1, 2]])
def test_unsupported_param_values(value: object) -> None:
    with pytest.raises(ScriptValidationError, match="param 'p'"):
        substitute("{}", {"p": value})


def test_unquoted_stringlist_is_left_for_the_json_parser() -> None:
    assert substitute('{"u": {l|stringlist}}', {"l": ["a"]}) == '{"u": {l|stringlist}}'
