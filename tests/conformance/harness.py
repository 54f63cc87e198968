"""Runs the reference implementation's golden tests (`../shared/conformance`) through our real CLI and workers.

For a case folder: stage its files into a temporary root (rewriting the upstream `/tmp/capi_cfg`, `/tmp/capi_in`,
`/tmp/capi_out` prefixes), run every variant's run sequence in a fresh keyspace with
`capillaries run start --wait`, and compare outputs with the compare mode named in `case.json`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from capillaries_provider.engine import compare
from capillaries_provider.script.graph import affected_nodes
from capillaries_provider.script.loader import load_script
from capillaries_provider.script.params import runtime_url

UPSTREAM_ROOTS = {"cfg": "/tmp/capi_cfg", "in": "/tmp/capi_in", "out": "/tmp/capi_out"}
TEXT_SUFFIXES = {".json", ".yaml", ".yml"}
RUN_TIMEOUT_S = 900

_SENTINEL = 987654  # stands for any batch index / run id in a writer's url template


@dataclass(frozen=True)
class Variant:
    case: str
    name: str
    case_dir: Path
    spec: dict  # type: ignore[type-arg]

    @property
    def id(self) -> str:
        return f"{self.case}/{self.name}"


def load_case(case_dir: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((case_dir / "case.json").read_text())


def variants(conformance_dir: Path) -> Iterator[Variant]:
    """Every (case, variant) pair that has runs, in a stable order."""
    for case_dir in sorted(p for p in conformance_dir.iterdir() if (p / "case.json").exists()):
        case = load_case(case_dir)
        for name, spec in sorted(case.get("variants", {}).items()):
            yield Variant(case["case"], name, case_dir, spec)


class Staging:
    """A temporary root holding cfg/, in/ and out/ the way the upstream tests lay them out under /tmp."""

    def __init__(self, root: Path) -> None:
        self.roots = {kind: root / kind for kind in UPSTREAM_ROOTS}

    def resolve(self, template: str) -> Path:
        for kind, placeholder in (("cfg", "{CFG}"), ("in", "{IN}"), ("out", "{OUT}")):
            template = template.replace(placeholder, str(self.roots[kind]))
        return Path(template)

    def rewrite(self, text: str) -> str:
        for kind, upstream in UPSTREAM_ROOTS.items():
            text = text.replace(upstream, str(self.roots[kind]))
        return text

    def stage(self, case_dir: Path, case: dict) -> None:  # type: ignore[type-arg]
        for entry in case["stage"]:
            if entry.get("dst") is None:  # informational files (transcripts) are not staged
                continue
            dst = self.resolve(entry["dst"])
            dst.parent.mkdir(parents=True, exist_ok=True)
            src = case_dir / entry["src"]
            if src.suffix in TEXT_SUFFIXES:
                dst.write_text(self.rewrite(src.read_text()))
            else:
                shutil.copyfile(src, dst)


def capillaries(*args: str, timeout: float = RUN_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "capillaries_provider.cli.main", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, env=os.environ.copy())


def run_variant(variant: Variant, staging: Staging) -> str:
    """Run the variant's run sequence in a fresh keyspace; return the keyspace (the caller drops it)."""
    keyspace = f"conf_{variant.case[:18]}_{variant.name[:8]}_{uuid.uuid4().hex[:8]}".lower()
    script = staging.resolve(variant.spec["script"])
    params = variant.spec.get("params")
    for run in variant.spec["runs"]:
        args = ["run", "start", "--keyspace", keyspace, "--script", str(script)]
        if params:
            args += ["--params", str(staging.resolve(params))]
        args += ["--start-nodes", ",".join(run["start_nodes"]), "--wait", "--timeout", str(RUN_TIMEOUT_S)]
        done = capillaries(*args, timeout=RUN_TIMEOUT_S + 60)
        if done.returncode != 0:
            raise AssertionError(
                f"{variant.id} run {run['run_id']} ({','.join(run['start_nodes'])}) failed with exit code "
                f"{done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
    return keyspace


def compare_outputs(case: dict, staging: Staging) -> list[str]:  # type: ignore[type-arg]
    """Differences of every output of the case, as messages (empty when all outputs match)."""
    problems = []
    for output in case["outputs"]:
        produced = [staging.resolve(p.strip()) for p in output["produced"].split(" + ")]
        expected = staging.resolve(output["expected"])
        missing = [str(p) for p in produced if not p.exists()]
        if missing:
            problems.append(f"not produced: {', '.join(missing)}")
            continue
        mode = output["compare"]
        if mode == "merge_batches_sort_data":
            result = compare.merge_batches_sort_data(produced, expected)
        else:
            (single,) = produced
            result = getattr(compare, mode)(single, expected)
        if not result.ok:
            problems.append(f"{produced[0].name} vs {expected.name} ({mode}): {result.message}")
    return problems


def params_of(variant: Variant, staging: Staging) -> str | None:
    """The staged params file of the variant, if it has one."""
    params = variant.spec.get("params")
    return str(staging.resolve(params)) if params else None


def outputs_of(variant: Variant, staging: Staging, case: dict) -> list[dict]:  # type: ignore[type-arg]
    """The case outputs written by this variant's file-writing nodes (a case's variants may write different files)."""
    script = load_script(str(staging.resolve(variant.spec["script"])), params_of(variant, staging))
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
