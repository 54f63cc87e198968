"""Conformance cases staged on remote storage: the cfg files' local roots become S3, HTTPS or SFTP prefixes.

Shared by the CLI runs (tests/remote/test_remote_runs.py) and the Airflow runs (tests/airflow), so both put the
same cases in the same places and compare with the same golden files.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conformance.harness import Staging, Variant, load_case, outputs_of
from tests.conftest import CONFORMANCE
from tests.remote.servers import HttpsServer, S3Server, SftpServer

# Golden cases on S3: portfolio, tag_and_denormalize (fs variant) and the Parquet-in, Parquet-out case. fannie_mae
# (Parquet too) runs locally in tests/conformance: on S3 it took 3-4 min per run for the same remote-file paths.
S3_CASES = [
    ("portfolio_quicktest", "one"),
    ("proto_file_reader_creator_quicktest", "parquet"),
    ("tag_and_denormalize_quicktest", "fs_one"),
]


@dataclass(frozen=True)
class RemoteCase:
    """A staged variant whose script and params are at `script` and `params` (URLs; no params for a variant without
    them); `outputs` as `compare_outputs` takes them."""

    variant: Variant
    staging: Staging
    outputs: dict[str, Any]
    script: str
    params: str | None

    @property
    def runs(self) -> list[dict[str, Any]]:
        runs: list[dict[str, Any]] = self.variant.spec["runs"]
        return runs


def _relocate(staging: Staging, prefixes: dict[str, str]) -> None:
    """Point the staged cfg files at remote roots: each local root of `prefixes` becomes its remote prefix."""
    for path in staging.roots["cfg"].rglob("*"):
        if path.suffix in (".json", ".yaml", ".yml"):
            text = path.read_text()
            for kind, prefix in prefixes.items():
                text = text.replace(str(staging.roots[kind]), prefix)
            path.write_text(text)


def _stage(case: str, name: str, tmp_path: Path, prefixes: dict[str, str]) -> RemoteCase:
    """Stage locally, rewrite the cfg files to `prefixes` and delete the expected outputs (so they must be made)."""
    case_dir = CONFORMANCE / case
    spec = load_case(case_dir)
    variant = Variant(case, name, case_dir, spec["variants"][name])
    staging = Staging(tmp_path)
    staging.stage(case_dir, spec)
    outputs = outputs_of(variant, staging, spec)
    _relocate(staging, prefixes)
    for out in outputs:
        for produced in out["produced"].split(" + "):
            staging.resolve(produced.strip()).unlink(missing_ok=True)

    def remote(template: str) -> str:
        return staging.resolve(template).as_posix().replace(str(staging.roots["cfg"]), prefixes["cfg"])

    params = variant.spec["params"]
    return RemoteCase(
        variant, staging, {"outputs": outputs}, remote(variant.spec["script"]), remote(params) if params else None
    )


class S3Case:
    """A case wholly on S3 under `s3://bucket/<case>-<random>/{cfg,in,out}`; the local inputs are deleted."""

    def __init__(self, case: str, name: str, tmp_path: Path, s3_server: S3Server, bucket: str) -> None:
        self.server, self.bucket = s3_server, bucket
        self.base = f"{case}-{uuid.uuid4().hex[:8]}"
        prefixes = {kind: f"s3://{bucket}/{self.base}/{kind}" for kind in ("cfg", "in", "out")}
        self.case = _stage(case, name, tmp_path, prefixes)
        for kind in ("cfg", "in"):
            s3_server.upload_tree(self.case.staging.roots[kind], bucket, f"{self.base}/{kind}")
        # The workers can only have read the inputs from S3 (the scripts name S3 URLs). Only an input that is also
        # an expected output (proto_file_reader_creator compares its outputs with its inputs) stays for the compare.
        expected = {self.case.staging.resolve(o["expected"]) for o in self.case.outputs["outputs"]}
        for path in self.case.staging.roots["in"].rglob("*"):
            if path.is_file() and path not in expected:
                path.unlink()

    def download_outputs(self) -> None:
        """The objects under out/ into the local out root, where `compare_outputs` looks for them."""
        prefix = f"{self.base}/out/"
        for key in self.server.list_keys(self.bucket, prefix):
            target = self.case.staging.roots["out"] / key.removeprefix(prefix)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.server.get(self.bucket, key))


def lookup_case(
    tmp_path: Path, https_server: HttpsServer, sftp_server: SftpServer, cfg_over: str = "https"
) -> RemoteCase:
    """lookup_quicktest `one`: inputs served over HTTPS, outputs written over SFTP into the local out root; its
    cfg files over HTTPS (`cfg_over="https"`) or SFTP (`"sftp"`)."""
    served = f"lookup-{uuid.uuid4().hex[:8]}"
    cfg_remote = {"https": https_server.url(f"{served}/cfg"), "sftp": sftp_server.url(tmp_path / "cfg")}[cfg_over]
    prefixes = {"cfg": cfg_remote, "in": https_server.url(f"{served}/in"), "out": sftp_server.url(tmp_path / "out")}
    case = _stage("lookup_quicktest", "one", tmp_path, prefixes)
    for kind in ("cfg", "in") if cfg_over == "https" else ("in",):
        shutil.copytree(case.staging.roots[kind], https_server.root / served / kind)
    return case
