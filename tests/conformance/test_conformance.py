"""Every variant of every case in ../shared/conformance produces the golden outputs (compare mode per case.json)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conformance.harness import (
    Staging,
    Variant,
    capillaries,
    compare_outputs,
    load_case,
    outputs_of,
    run_variant,
    variants,
)
from tests.conftest import CONFORMANCE, needs_shared

VARIANTS = list(variants(CONFORMANCE)) if CONFORMANCE.is_dir() else []

pytestmark = [pytest.mark.integration, pytest.mark.conformance]


@needs_shared(CONFORMANCE)
@pytest.mark.parametrize("variant", VARIANTS, ids=[v.id for v in VARIANTS])
def test_variant_matches_golden_outputs(variant: Variant, tmp_path: Path, workers: subprocess.Popen[bytes]) -> None:
    case = load_case(variant.case_dir)
    staging = Staging(tmp_path)
    staging.stage(variant.case_dir, case)
    outputs = outputs_of(variant, staging, case)
    assert outputs, f"{variant.id}: no case output is written by this variant's nodes"
    keyspace = run_variant(variant, staging)
    try:
        assert compare_outputs({"outputs": outputs}, staging) == []
    finally:
        capillaries("keyspace", "drop", keyspace, timeout=300)
