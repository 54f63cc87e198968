"""`regex_extract`: an example third-party custom processor type for `table_custom_tfm_table` nodes.

The named groups of `pattern` matched against the text field `source` become string fields `p.<group>`; rows that
do not match are dropped, or kept with empty groups when `keep_unmatched` is true:

    "custom_proc_type": "regex_extract",
    "p": {"source": "full_name", "pattern": "^(?P<first>\\\\w+) (?P<last>\\\\w+)$"}

Installed with `pip install examples/regex_extract`, it is found through the `capillaries.processors` entry point
named in pyproject.toml; see docs/script-reference.md, "Third-party custom processors".
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from capillaries_provider.expr.types import FieldType, Value

Row = Mapping[str, Value]


@dataclass(frozen=True)
class RegexExtractSettings:
    source: str
    pattern: re.Pattern[str]
    keep_unmatched: bool = False

    @property
    def field_types(self) -> dict[str, FieldType]:
        return {group: FieldType.STRING for group in self.pattern.groupindex}

    @property
    def reader_fields(self) -> tuple[str, ...]:
        return (self.source,)


class RegexExtract:
    name = "regex_extract"

    def parse(self, raw: Mapping[str, Any]) -> RegexExtractSettings:
        source, pattern, keep = raw.get("source"), raw.get("pattern"), raw.get("keep_unmatched", False)
        if not isinstance(source, str) or not source:
            raise ValueError("p.source: the name of a string field of the input table is required")
        if not isinstance(pattern, str):
            raise ValueError("p.pattern: a regular expression string is required")
        if not isinstance(keep, bool):
            raise ValueError(f"p.keep_unmatched: expected true or false, got {keep!r}")
        try:
            compiled = re.compile(pattern)
        except re.error as e:
            raise ValueError(f"p.pattern: invalid regular expression: {e}") from None
        if not compiled.groupindex:
            raise ValueError("p.pattern: needs at least one named group, e.g. (?P<word>\\w+)")
        return RegexExtractSettings(source, compiled, keep)

    def process(self, settings: RegexExtractSettings, rows: Sequence[Row]) -> Iterator[tuple[Row, dict[str, Value]]]:
        for row in rows:
            text = row[settings.source]
            if not isinstance(text, str):
                raise TypeError(f"r.{settings.source} is {type(text).__name__}, regex_extract needs a string")
            m = settings.pattern.search(text)
            if m is not None:
                yield row, {g: m.group(g) or "" for g in settings.pattern.groupindex}
            elif settings.keep_unmatched:
                yield row, {g: "" for g in settings.pattern.groupindex}


PROCESSOR = RegexExtract()
