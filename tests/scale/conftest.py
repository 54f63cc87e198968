"""The local 3-node clusters every test here shares: `services up --cassandra-nodes 3 --rabbitmq-nodes 3` in a
state folder of their own, brought up once for the package.

The session's single-node services hold the same addresses (node 1 is 127.0.0.1:9042 and 127.0.0.1:5672), so the
fixture stops them first and starts them again at the end. tests/scale sorts after the integration suites, so
nothing else needs them meanwhile.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.remote.conftest import s3_server  # noqa: F401  (the S3 server the worker groups share)

NODES = 3
CASSANDRA_HOSTS = ",".join(f"127.0.0.{n}" for n in range(1, NODES + 1))


def services(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "capillaries_provider.cli.main", "services", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900, check=False)


@pytest.fixture(scope="package")
def cluster_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The environment of the clusters' state folder, with both clusters up; single nodes back afterwards."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("CAPILLARIES_CASSANDRA_")}
    base.pop("CAPILLARIES_STATE_DIR", None)
    stopped = services("down", env=base)
    assert stopped.returncode == 0, stopped.stderr
    env = {**base, "CAPILLARIES_STATE_DIR": str(tmp_path_factory.mktemp("cluster-state"))}
    try:
        up = services("up", "--cassandra-nodes", str(NODES), "--rabbitmq-nodes", str(NODES), env=env)
        assert up.returncode == 0, up.stdout + up.stderr
        yield env
    finally:
        down = services("down", env=env)
        print(down.stdout, down.stderr)
        again = services("up", env=base)
        assert again.returncode == 0, again.stdout + again.stderr
