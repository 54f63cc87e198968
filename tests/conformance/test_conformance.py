"""Every variant of every case in ../shared/conformance produces the golden outputs (compare mode per case.json)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from capillaries_provider.script.graph import affected_nodes
from capillaries_provider.script.loader import load_script
from capillaries_provider.script.params import runtime_url
from tests.conformance.harness import (
    Staging,
    Variant,
    capillaries,
    compare_outputs,
    load_case,
    run_variant,
    variants,
)
from tests.conftest import SHARED

CONFORMANCE = SHARED / "conformance"
VARIANTS = list(variants(CONFORMANCE)) if CONFORMANCE.is_dir() else []

_SENTINEL = 987654  # stands for any batch index / run id in a writer's url template

pytestmark = [pytest.mark.integration, pytest.mark.conformance]


def _outputs_of(variant: Variant, staging: Staging, case: dict) -> list[dict]:  # type: ignore[type-arg]
    """The case outputs written by this variant's file-writing nodes (a case's variants may write different files)."""
    script = load_script(str(staging.resolve(variant.spec["script"])), _params(variant, staging))
    written: list[re.Pattern[str]] = []
    for run in variant.spec["runs"]:
        for name in affected_nodes(script, run["start_nodes"]):
            creator = script.nodes[name].file_creator
            if creator is not None:
                rendered = runtime_url(creator.url_template, batch_idx=_SENTINEL, run_id=_SENTINEL)
                written.append(re.compile(re.escape(rendered).replace(f"{_SENTINEL:05d}", r"\d{5}")))
    return [
        out
        for out in case["outputs"]
        if any(p.fullmatch(str(staging.resolve(f.strip()))) for f in out["produced"].split(" + ") for p in written)
    ]


def _params(variant: Variant, staging: Staging) -> str | None:
    params = variant.spec.get("params")
    return str(staging.resolve(params)) if params else None


@pytest.mark.skipif(not VARIANTS, reason=f"no conformance cases: {CONFORMANCE} is absent")
@pytest.mark.parametrize("variant", VARIANTS, ids=[v.id for v in VARIANTS])
def test_variant_matches_golden_outputs(variant: Variant, tmp_path: Path, workers: subprocess.Popen[bytes]) -> None:
    case = load_case(variant.case_dir)
    staging = Staging(tmp_path)
    staging.stage(variant.case_dir, case)
    outputs = _outputs_of(variant, staging, case)
    assert outputs, f"{variant.id}: no case output is written by this variant's nodes"
    keyspace = run_variant(variant, staging)
    try:
        assert compare_outputs({"outputs": outputs}, staging) == []
    finally:
        capillaries("keyspace", "drop", keyspace, timeout=300)
