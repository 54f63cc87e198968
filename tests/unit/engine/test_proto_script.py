"""`capillaries proto-file-reader-creator` prints what Go's toolbelt prints, byte for byte."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from capillaries_provider.cli.main import main
from capillaries_provider.engine.proto_script import (
    CsvLayout,
    GuessedField,
    Marshalled,
    ProtoScriptError,
    generalise,
    go_json,
    guess_csv_fields,
    guess_csv_value,
    guess_parquet_fields,
    proto_script,
)
from capillaries_provider.expr.types import FieldType as T
from capillaries_provider.script.loader import load_script
from capillaries_provider.script.model import DataFormat, NodeType

DATA = Path(__file__).parent / "data" / "proto"
CASE = Path(__file__).resolve().parents[4] / "shared" / "conformance" / "proto_file_reader_creator_quicktest"
SAMPLES = CASE / "test" / "data" / "in" / "proto_file_reader_creator"


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["proto-file-reader-creator", *args]) == 0
    return capsys.readouterr().out


@pytest.mark.skipif(not CASE.is_dir(), reason=f"conformance suite not found at {CASE}")
@pytest.mark.parametrize(
    ("sample", "args"),
    [
        ("products.csv", ["--csv-hdr-line-idx", "0", "--csv-first-line-idx", "1", "--csv-separator", "\t"]),
        ("products.parquet", []),
    ],
)
def test_conformance_scripts_after_the_documented_sed(
    capsys: pytest.CaptureFixture[str], sample: str, args: list[str]
) -> None:
    out = _cli(capsys, str(SAMPLES / sample), *args)
    # 1_generate_scripts.sh: sed 's~"url_template"~"top": {"order": "col_id(asc)"},\n    "url_template"~g'
    rewritten = out.replace('"url_template"', '"top": {"order": "col_id(asc)"},\n    "url_template"')
    kind = sample.rsplit(".", 1)[1]
    assert rewritten == (CASE / "generated" / f"script_{kind}.json").read_text()


def test_equals_go_toolbelt_output(capsys: pytest.CaptureFixture[str]) -> None:
    """Headers with spaces, `&` and non-ASCII; quoted cells; datetimes with zones and fractions; last-value formats."""
    args = ["--csv-hdr-line-idx", "0", "--csv-first-line-idx", "1", "--csv-separator", ";"]
    assert _cli(capsys, str(DATA / "header.csv"), *args) == (DATA / "header.go.json").read_text()


def test_headerless_file_equals_go_but_keeps_usable_names(capsys: pytest.CaptureFixture[str]) -> None:
    """Every type and datetime layout, empty cells. Go names the table fields `000`... and leaves the output headers
    empty, so its script does not load; here they are `col_000`..., all else is Go's bytes."""
    go = (DATA / "no_header.go.json").read_text()
    go = re.sub(r'"(\d{3})": \{', r'"col_\1": {', go)
    go = re.sub(r'"r\.(\d{3})"', r'"r.col_\1"', go)
    for i in range(go.count('"header": ""')):
        go = go.replace('"header": ""', f'"header": "col_{i:03d}"', 1)
    assert _cli(capsys, str(DATA / "no_header.csv")) == go


def test_generated_script_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script_file = tmp_path / "script.json"
    script_file.write_text(
        _cli(
            capsys,
            str(DATA / "header.csv"),
            "--csv-hdr-line-idx",
            "0",
            "--csv-first-line-idx",
            "1",
            "--csv-separator",
            ";",
            "--in-dir",
            str(tmp_path),
            "--out-dir",
            str(tmp_path / "out"),
        )
    )
    script = load_script(str(script_file))
    assert [n.type for n in script.nodes.values()] == [NodeType.FILE_TABLE, NodeType.TABLE_FILE]
    assert script.nodes["read_file"].file_reader is not None
    assert script.nodes["read_file"].file_reader.urls == (str(tmp_path / "header.csv"),)
    assert script.nodes["write_file"].file_creator is not None
    assert script.nodes["write_file"].file_creator.url_template == str(tmp_path / "out" / "header.csv")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.25", (T.DECIMAL2, "%f")),
        (".25", (T.DECIMAL2, "%f")),
        (" -7 ", (T.INT, "%d")),
        ("+1.5", (T.FLOAT, "%f")),
        ("1e5", (T.STRING, "")),
        ("False", (T.BOOL, "")),
        ("2024-01-02T03:04:05.123456", (T.DATETIME, "2006-01-02T15:04:05.0000000")),
        ("2024-01-02 03:04:05-0700", (T.DATETIME, "2006-01-02 15:04:05-0700")),
        ("2024-01-02", (T.STRING, "")),
        ("", (T.STRING, "")),
        ("12\n", (T.INT, "%d")),
    ],
)
def test_value_guesses(text: str, expected: tuple[T, str]) -> None:
    assert guess_csv_value(text) == expected


def test_generalisation() -> None:
    assert generalise(None, T.BOOL) is T.BOOL
    assert generalise(T.INT, T.DECIMAL2) is T.DECIMAL2
    assert generalise(T.DECIMAL2, T.INT) is T.DECIMAL2
    assert generalise(T.DECIMAL2, T.FLOAT) is T.FLOAT
    assert generalise(T.INT, T.BOOL) is T.STRING
    assert generalise(T.DATETIME, T.INT) is T.STRING


def test_fixes_of_go_slips(tmp_path: Path) -> None:
    """Go stops guessing when data starts more than one record after the header, and writes `r.a_b` for a header
    `a_col_b` whose table field is `a_col_b`."""
    sample = tmp_path / "s.csv"
    sample.write_text("a_col_b,n\nskipped,x\n1,2\n")
    fields = guess_csv_fields(sample, CsvLayout(0, 2))
    assert fields == [GuessedField("a_col_b", "col_a_col_b", T.INT, "%d"), GuessedField("n", "col_n", T.INT, "%d")]
    assert '"expression": "r.a_col_b"' in proto_script("s.csv", DataFormat.CSV, fields, CsvLayout(0, 2))


def test_bad_input_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1\n")
    assert main(["proto-file-reader-creator", str(ragged), "--csv-hdr-line-idx", "0", "--csv-first-line-idx", "1"]) == 1
    assert f"{ragged}: record on line 2: wrong number of fields" in capsys.readouterr().err
    clash = tmp_path / "clash.csv"
    clash.write_text("a b,a-b\n1,2\n")
    with pytest.raises(ProtoScriptError, match="columns 'a b' and 'a-b' both become col_a_b"):
        guess_csv_fields(clash, CsvLayout(0, 1))
    with pytest.raises(ProtoScriptError, match=f"{clash}: no data records from record index 5 on"):
        guess_csv_fields(clash, CsvLayout(0, 5))
    with pytest.raises(ValueError, match=r"first data line \(0\) must come after the header line \(0\)"):
        CsvLayout(0, 0)
    assert main(["proto-file-reader-creator", str(tmp_path / "none.csv")]) == 1
    assert f"error: cannot read {tmp_path / 'none.csv'}: No such file or directory" in capsys.readouterr().err
    nested = tmp_path / "nested.parquet"
    pq.write_table(pa.table({"id": [1], "s": [{"x": 1}]}), nested)
    with pytest.raises(ProtoScriptError, match="nested parquet column.*: s"):
        guess_parquet_fields(nested)


def test_go_json_escapes_html_only_in_marshalled_parts() -> None:
    assert go_json({"a": "x&y", "b": Marshalled({"c": "x&y", "d": []}), "e": {}}) == (
        '{\n "a": "x&y",\n "b": {\n  "c": "x\\u0026y",\n  "d": []\n },\n "e": {}\n}'
    )
