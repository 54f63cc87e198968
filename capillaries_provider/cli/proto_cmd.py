"""`capillaries proto-file-reader-creator FILE`: print a starter script for a sample CSV or Parquet file.

Go's toolbelt `proto_file_reader_creator` (spec 8.2), with the same output bytes; the script reads the file from
`--in-dir` and writes it back to `--out-dir` (Go's fixed quicktest folders by default).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from capillaries_provider.engine.file_errors import FileReadError
from capillaries_provider.engine.proto_script import (
    GO_IN_DIR,
    GO_OUT_DIR,
    CsvLayout,
    guess_csv_fields,
    guess_parquet_fields,
    proto_script,
)
from capillaries_provider.script.model import DataFormat


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "proto-file-reader-creator", help="print a starter script (file -> table -> file) for a sample CSV or Parquet"
    )
    p.add_argument("file", help="sample file; column types are guessed from it")
    p.add_argument("--file-type", choices=("csv", "parquet"), default=None, help="default: from the file extension")
    p.add_argument("--csv-hdr-line-idx", type=int, default=-1, help="record index of the header, -1 = none")
    p.add_argument("--csv-first-line-idx", type=int, default=0, help="record index of the first data record")
    p.add_argument("--csv-separator", default=",")
    p.add_argument("--in-dir", default=GO_IN_DIR, help="folder the script reads the file from")
    p.add_argument("--out-dir", default=GO_OUT_DIR, help="folder the script writes the copy to")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = Path(args.file)
    file_type = args.file_type or ("parquet" if path.suffix.lower() == ".parquet" else "csv")
    try:
        if file_type == "parquet":
            fields, layout, fmt = guess_parquet_fields(path), None, DataFormat.PARQUET
        else:
            layout = CsvLayout(args.csv_hdr_line_idx, args.csv_first_line_idx, args.csv_separator)
            fields, fmt = guess_csv_fields(path, layout), DataFormat.CSV
    except (FileReadError, ValueError) as e:
        sys.stderr.write(f"error: {e}\n")
        return 1
    except OSError as e:
        sys.stderr.write(f"error: cannot read {path}: {e.strerror or e}\n")
        return 1
    sys.stdout.write(proto_script(path.name, fmt, fields, layout, in_dir=args.in_dir, out_dir=args.out_dir))
    return 0
