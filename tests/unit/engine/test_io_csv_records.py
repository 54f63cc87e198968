"""Go `encoding/csv` (LazyQuotes) tokenizer behaviour; expected records are what Go's csv.Reader returns."""

from __future__ import annotations

from pathlib import Path

import pytest

from capillaries_provider.engine.csv_records import CsvFormatError, iter_csv_file, iter_csv_records, separator_char


def records(data: bytes, sep: str = ",") -> list[tuple[int, list[str]]]:
    # Split on LF only, the way a binary file iterates (bytes.splitlines would also split on a lone CR).
    lines = [part + b"\n" for part in data.split(b"\n")]
    lines[-1] = lines[-1][:-1]
    return list(iter_csv_records([ln for ln in lines if ln], sep, "t.csv"))


def fields(data: bytes, sep: str = ",") -> list[list[str]]:
    return [f for _, f in records(data, sep)]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"a,b,c\n", [["a", "b", "c"]]),
        (b'"a,b",c\n', [["a,b", "c"]]),
        (b'"a""b",c\n', [['a"b', "c"]]),
        (b'"",a\n', [["", "a"]]),
        (b'"multi\nline",x\n', [["multi\nline", "x"]]),
        (b'"a\r\nb",c\r\n', [["a\nb", "c"]]),
        (b'a"b,c\n', [['a"b', "c"]]),  # bare quote in an unquoted field is text
        (b'"a"b",c\n', [['a"b', "c"]]),  # quote followed by text: kept (LazyQuotes)
        (b'"abc', [["abc"]]),  # unterminated quoted field ends at EOF
        (b'"abc\n', [["abc\n"]]),
        (b'a,"b"c,d\n', [["a", 'b"c,d\n']]),  # lazy quote swallows the rest of the file
        (b'"a" ,b\n', [['a" ,b\n']]),
        (b"a,\n", [["a", ""]]),
        (b",\n", [["", ""]]),
        (b"a\rb,c\n", [["a\rb", "c"]]),  # lone CR is data
        (b"a,b\r", [["a", "b"]]),  # CR before EOF dropped
        (b'"x"\r\n', [["x"]]),
        (b"  \n", [["  "]]),  # blank-but-not-empty line is a record
        (b"\xef\xbb\xbfid,x\n", [["\ufeffid", "x"]]),  # BOM not stripped
    ],
)
def test_go_records(data: bytes, expected: list[list[str]]) -> None:
    assert fields(data) == expected


def test_empty_lines_skipped_and_line_numbers_are_physical() -> None:
    data = b'a,b\n\n\r\n"x\ny",z\nc,d\n'
    assert records(data) == [(1, ["a", "b"]), (4, ["x\ny", "z"]), (6, ["c", "d"])]


def test_empty_line_inside_quoted_field_is_kept() -> None:
    assert fields(b'"a\n\nb",c\n') == [["a\n\nb", "c"]]


def test_wrong_field_count_names_file_and_line() -> None:
    with pytest.raises(CsvFormatError) as e:
        records(b"a,b\n\nc\n")
    assert e.value.line == 3
    assert "t.csv" in str(e.value)
    assert "record on line 3: wrong number of fields" in str(e.value)


def test_tab_separator_and_first_byte_only() -> None:
    assert fields(b"a\tb,c\n", "\t") == [["a", "b,c"]]
    assert fields(b"a;b\n", ";;") == [["a", "b"]]
    assert separator_char("") == ","


def test_non_ascii_separator_byte_becomes_latin1_rune() -> None:
    # Go: rune("é"[0]) == U+00C3, searched as its UTF-8 encoding C3 83 ("Ã").
    assert fields("aÃbéc\n".encode(), "é") == [["a", "béc"]]


@pytest.mark.parametrize("sep", ['"', "\n", "\r", "\x00"])
def test_invalid_separator(sep: str) -> None:
    with pytest.raises(ValueError, match="invalid field or comment delimiter"):
        records(b"a\n", sep)


def test_invalid_utf8_round_trips_as_surrogate_escape() -> None:
    (rec,) = fields(b"a\xff,b\n")
    assert rec[0].encode("utf-8", "surrogateescape") == b"a\xff"


def test_iter_csv_file_streams_from_disk(tmp_path: Path) -> None:
    p = tmp_path / "f.tsv"
    p.write_bytes(b"h1\th2\r\n1\t2\n")
    assert list(iter_csv_file(p, "\t")) == [(1, ["h1", "h2"]), (2, ["1", "2"])]
