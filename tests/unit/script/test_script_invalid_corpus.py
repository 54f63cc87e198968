"""Every script under invalid/ must fail to load with the errors listed in its expected.txt.

expected.txt lines: `node | key | message fragment [| token under the caret]`; `-` = the error names no node/key.
All listed errors, and only those, must be reported by one load: the loader collects errors instead of stopping
at the first, and a broken part must not cascade into follow-up errors elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from capillaries_provider.script.errors import ScriptError, ScriptValidationError
from capillaries_provider.script.loader import load_script

CORPUS = Path(__file__).parent / "invalid"


@dataclass(frozen=True)
class Expected:
    node: str | None
    key: str | None
    fragment: str
    caret_token: str | None

    def matches(self, e: ScriptError) -> bool:
        if self.node != e.node:
            return False
        if self.key is None and e.key is not None:
            return False
        if self.key is not None and (e.key is None or self.key not in e.key):
            return False
        return self.fragment in e.message

    def caret_position_ok(self, e: ScriptError) -> bool:
        """The caret line must point at (the start of) the token in the quoted expression."""
        if self.caret_token is None:
            return True
        assert e.detail is not None, f"no expression/caret shown for {e}"
        text_line, caret_line = e.detail.splitlines()[-2:]
        return text_line[caret_line.index("^") :].startswith(self.caret_token)


def _expected(case: Path) -> list[Expected]:
    out = []
    for line in (case / "expected.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split(" | ")]
        node, key, fragment = parts[:3]
        out.append(
            Expected(
                None if node == "-" else node,
                None if key == "-" else key,
                fragment,
                parts[3] if len(parts) > 3 else None,
            )
        )
    return out


CASES = sorted(p for p in CORPUS.iterdir() if p.is_dir())


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_invalid_script(case: Path) -> None:
    script = next(case.glob("script.*"))
    params = case / "params.json"
    with pytest.raises(ScriptValidationError) as info:
        load_script(str(script), str(params) if params.exists() else None)
    errors = info.value.errors
    expected = _expected(case)
    # exactly the listed errors: a broken part must not cascade into follow-up errors elsewhere
    assert len(errors) == len(expected), str(info.value)
    for exp in expected:
        found = [e for e in errors if exp.matches(e)]
        assert found, f"expected {exp} among:\n{info.value}"
        assert any(exp.caret_position_ok(e) for e in found), f"caret not under {exp.caret_token!r}:\n{found[0]}"
    # every error names the file it comes from, and str() lists all of them
    assert all(e.file == str(script) for e in errors)
    assert all(str(e) in str(info.value) for e in errors)
