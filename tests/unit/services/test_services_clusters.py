"""Local clusters (`capillaries services up --cassandra-nodes N --rabbitmq-nodes N`) without starting a server: each
node's config, addresses, ports, names and folders, the node count kept in the state folder, the status lines, the
stop order and the RabbitMQ join decisions."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from capillaries_provider.cli.main import build_parser
from capillaries_provider.config import amqp_settings
from capillaries_provider.services import cassandra, postgres, rabbitmq
from capillaries_provider.services.process import ServiceError, cluster_size, nodes_in_state
from capillaries_provider.services.status import ServiceStatus

TEMPLATE = (Path(cassandra.__file__).parent / "resources" / "cassandra.yaml.template").read_text()


@pytest.fixture(autouse=True)
def state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A private state folder and no external services, so every test sees local clusters only."""
    monkeypatch.setenv("CAPILLARIES_STATE_DIR", str(tmp_path))
    for name in ("CAPILLARIES_CASSANDRA_HOSTS", "CAPILLARIES_CASSANDRA_PORT", "CAPILLARIES_AMQP_URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_cassandra_node_i_listens_on_127_0_0_i_with_node_1_as_seed(state: Path) -> None:
    assert [cassandra.node_address(i) for i in (1, 2, 3)] == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    assert cassandra.seeds() == "127.0.0.1:7000"
    assert cassandra.node_home(1) == state / "cassandra"  # the single node's folder
    assert cassandra.node_home(3) == state / "cassandra-3"


@pytest.mark.parametrize("node", [1, 2, 3])
def test_each_node_config_has_its_own_address_and_folders(node: int) -> None:
    home = Path(f"/s/cassandra-{node}")
    conf = yaml.safe_load(cassandra.render_config(TEMPLATE, node=node, nodes=3, home=home, native_port=9042))
    address = f"127.0.0.{node}"
    assert (conf["listen_address"], conf["rpc_address"]) == (address, address)
    assert conf["seed_provider"][0]["parameters"][0]["seeds"] == "127.0.0.1:7000"
    assert (conf["storage_port"], conf["native_transport_port"]) == (7000, 9042)
    assert conf["data_file_directories"] == [f"{home}/data"]
    for key in ("commitlog_directory", "saved_caches_directory", "hints_directory", "cdc_raw_directory"):
        assert conf[key].startswith(f"{home}/")
    assert conf["memtable_heap_space"] == "128MiB"
    assert conf["cluster_name"] == "capillaries-local"
    assert "{" not in yaml.safe_dump(conf)


def test_a_single_node_keeps_its_config_and_1_gb_heap() -> None:
    conf = yaml.safe_load(cassandra.render_config(TEMPLATE, node=1, nodes=1, home=Path("/s"), native_port=9142))
    assert (conf["listen_address"], conf["native_transport_port"], conf["memtable_heap_space"]) == (
        "127.0.0.1",
        9142,
        "256MiB",
    )
    assert [cassandra.heap_mb(n) for n in (1, 2, 3)] == [1024, 512, 512]


def test_the_jvm_command_fixes_the_heap_and_points_at_the_node_folders() -> None:
    home, conf, lib = Path("/s/cassandra-2"), Path("/s/cassandra-2/conf"), Path("/cache/lib")
    cmd = cassandra.jvm_command("java", lib, conf, home, 512)
    assert cmd[:3] == ["java", "-Xms512m", "-Xmx512m"]
    assert f"-Dcassandra.config=file://{conf}/cassandra.yaml" in cmd
    assert f"-Dcassandra.storagedir={home}" in cmd and f"-Dcassandra.logdir={home}/logs" in cmd
    assert cmd[-3:] == ["-cp", f"{conf}:{lib}/*", "org.apache.cassandra.service.CassandraDaemon"]


def test_the_node_count_comes_from_the_state_folder_and_never_shrinks(state: Path) -> None:
    assert nodes_in_state(cassandra.node_home) == 1  # nothing yet: one node
    assert cluster_size("Cassandra cluster", cassandra.node_home, None) == 1
    assert cluster_size("Cassandra cluster", cassandra.node_home, 3) == 3
    for node in (1, 2, 3):
        cassandra.node_home(node).mkdir()
    assert nodes_in_state(cassandra.node_home) == 3
    assert cluster_size("Cassandra cluster", cassandra.node_home, None) == 3
    assert cluster_size("Cassandra cluster", cassandra.node_home, 4) == 4
    with pytest.raises(
        ServiceError, match="the local Cassandra cluster has 3 nodes; start all 3, or stop it and remove"
    ):
        cluster_size("Cassandra cluster", cassandra.node_home, 1)
    with pytest.raises(ServiceError, match="at least 1"):
        cluster_size("Cassandra cluster", cassandra.node_home, 0)


def _homes(module: Any, nodes: int) -> None:
    for node in range(1, nodes + 1):
        module.node_home(node).mkdir(parents=True, exist_ok=True)
        (module.node_home(node) / f"{module.__name__.rsplit('.', 1)[1]}.pid").write_text(str(1000 + node))


def _fake_pids(monkeypatch: pytest.MonkeyPatch, module: Any, dead: frozenset[int] = frozenset()) -> None:
    def read_pid(path: Path) -> int | None:
        pid = int(path.read_text()) if path.exists() else None
        return None if pid in dead else pid

    monkeypatch.setattr(module, "read_pid", read_pid)


def test_cassandra_status_has_one_line_per_node(monkeypatch: pytest.MonkeyPatch) -> None:
    _homes(cassandra, 3)
    _fake_pids(monkeypatch, cassandra, dead=frozenset({1003}))
    answers = {"127.0.0.1": "5.0.8", "127.0.0.2": "5.0.8", "127.0.0.3": None}
    monkeypatch.setattr(cassandra, "query_version", lambda hosts, settings: answers[hosts[0]])
    assert [st.line() for st in cassandra.status()] == [
        "Cassandra 5.0.8 up at 127.0.0.1:9042 (started by capillaries, pid 1001)",
        "Cassandra 5.0.8 up at 127.0.0.2:9042 (started by capillaries, pid 1002)",
        "Cassandra down at 127.0.0.3:9042: no CQL answer",
    ]


def test_an_external_cassandra_is_one_line_for_its_contact_points(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAPILLARIES_CASSANDRA_HOSTS", "10.0.0.1,10.0.0.2")
    _homes(cassandra, 2)  # a local cluster's state does not matter then
    monkeypatch.setattr(cassandra, "query_version", lambda hosts, settings: "5.0.4" if len(hosts) == 2 else None)
    assert [st.line() for st in cassandra.status()] == ["Cassandra 5.0.4 up at 10.0.0.1:9042,10.0.0.2:9042 (external)"]


def test_cassandra_down_stops_every_node_node_1_last(monkeypatch: pytest.MonkeyPatch) -> None:
    _homes(cassandra, 3)
    _fake_pids(monkeypatch, cassandra, dead=frozenset({1002}))
    stopped: list[int] = []
    monkeypatch.setattr(cassandra, "stop_pid", stopped.append)
    assert cassandra.down().splitlines() == [
        "Cassandra at 127.0.0.3:9042 stopped (pid 1003)",
        "Cassandra at 127.0.0.2:9042: not started by capillaries, nothing to stop",
        "Cassandra at 127.0.0.1:9042 stopped (pid 1001)",
    ]
    assert stopped == [1003, 1001]
    assert not (cassandra.node_home(3) / "cassandra.pid").exists()


def test_rabbitmq_nodes_have_distinct_names_ports_and_folders(state: Path) -> None:
    settings = amqp_settings({"CAPILLARIES_AMQP_URL": "amqp://u:p%40ss@127.0.0.1:5672/vh"})
    assert [rabbitmq.node_name(i) for i in (1, 2, 3)] == [
        "capillaries@localhost",  # the single node's name: its data stays valid
        "capillaries2@localhost",
        "capillaries3@localhost",
    ]
    assert [rabbitmq.amqp_port(settings, i) for i in (1, 2, 3)] == [5672, 5673, 5674]
    assert [rabbitmq.dist_port(i) for i in (1, 2, 3)] == [25673, 25674, 25675]
    assert rabbitmq.node_url(settings, 3) == "amqp://u:p%40ss@127.0.0.1:5674/vh"
    assert rabbitmq.node_url(amqp_settings({}), 2) == "amqp://guest:guest@127.0.0.1:5673/%2F"
    envs = [rabbitmq.node_env(settings, i) for i in (1, 2, 3)]
    for key in ("RABBITMQ_NODENAME", "RABBITMQ_NODE_PORT", "RABBITMQ_DIST_PORT", "RABBITMQ_MNESIA_BASE"):
        assert len({env[key] for env in envs}) == 3, key
    assert {env["HOME"] for env in envs} == {str(state / "rabbitmq")}  # one Erlang cookie for the cluster
    assert envs[1]["RABBITMQ_MNESIA_BASE"] == str(state / "rabbitmq-2" / "mnesia")
    assert envs[0]["RABBITMQ_MNESIA_BASE"] == str(state / "rabbitmq" / "mnesia")


CLUSTER_STATUS = json.dumps(
    {
        "disk_nodes": ["capillaries@localhost", "capillaries2@localhost"],
        "ram_nodes": [],
        "running_nodes": ["capillaries@localhost"],
    }
)


def test_cluster_status_json_gives_members_and_running_nodes() -> None:
    assert rabbitmq.member_nodes(CLUSTER_STATUS) == {"capillaries@localhost", "capillaries2@localhost"}
    assert rabbitmq.running_nodes(CLUSTER_STATUS) == {"capillaries@localhost"}


def test_only_a_node_outside_the_cluster_joins_it(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, ...]] = []

    def ctl(settings: Any, node: int, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        calls.append((rabbitmq.node_name(node), *args))
        return subprocess.CompletedProcess(args, 0, CLUSTER_STATUS if "cluster_status" in args else "", "")

    monkeypatch.setattr(rabbitmq, "_ctl", ctl)
    settings = amqp_settings({})
    rabbitmq._join(settings, 2)
    assert calls == [("capillaries@localhost", "cluster_status", "--formatter", "json")]
    calls.clear()
    rabbitmq._join(settings, 3)
    assert calls[1:] == [
        ("capillaries3@localhost", "stop_app"),
        ("capillaries3@localhost", "join_cluster", "capillaries@localhost"),
        ("capillaries3@localhost", "start_app"),
    ]


def test_the_cluster_cookie_is_written_once_owner_only(state: Path) -> None:
    rabbitmq.node_home(1).mkdir()
    rabbitmq._ensure_cookie()
    cookie = rabbitmq.node_home(1) / ".erlang.cookie"
    first = cookie.read_text()
    assert len(first) == 20 and first.isalpha() and stat.S_IMODE(cookie.stat().st_mode) == 0o400
    rabbitmq._ensure_cookie()
    assert cookie.read_text() == first


def test_rabbitmq_status_and_down_cover_every_node(monkeypatch: pytest.MonkeyPatch) -> None:
    _homes(rabbitmq, 3)
    _fake_pids(monkeypatch, rabbitmq)
    monkeypatch.setattr(rabbitmq, "_server_version", lambda url: None if url.endswith(":5673/%2F") else "3.10.8")
    assert [st.line() for st in rabbitmq.status()] == [
        "RabbitMQ 3.10.8 up at 127.0.0.1:5672 (started by capillaries, pid 1001)",
        "RabbitMQ down at 127.0.0.1:5673 (started by capillaries, pid 1002): no AMQP connection",
        "RabbitMQ 3.10.8 up at 127.0.0.1:5674 (started by capillaries, pid 1003)",
    ]
    stopped: list[str] = []

    def ctl(settings: Any, node: int, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        stopped.append(rabbitmq.node_name(node))
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(rabbitmq, "_ctl", ctl)
    monkeypatch.setattr(rabbitmq, "pid_alive", lambda pid: False)
    assert rabbitmq.down().splitlines() == [
        "RabbitMQ capillaries3@localhost stopped (pid 1003)",
        "RabbitMQ capillaries2@localhost stopped (pid 1002)",
        "RabbitMQ capillaries@localhost stopped (pid 1001)",
    ]
    assert stopped == ["capillaries3@localhost", "capillaries2@localhost", "capillaries@localhost"]


def test_services_up_takes_node_counts_for_the_clustered_services(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = build_parser().parse_args(["services", "up", "--cassandra-nodes", "3"])
    assert (args.cassandra_nodes, args.rabbitmq_nodes) == (3, None)
    asked: dict[str, object] = {}

    def up(name: str, lines: int) -> Any:
        def start(**kwargs: Any) -> list[ServiceStatus]:
            asked[name] = kwargs.get("nodes", "no count")
            return [ServiceStatus(name, True, f"127.0.0.{i}:1", "1.0") for i in range(1, lines + 1)]

        return start

    monkeypatch.setattr(cassandra, "up", up("Cassandra", 3))
    monkeypatch.setattr(rabbitmq, "up", up("RabbitMQ", 1))
    monkeypatch.setattr(postgres, "up", up("PostgreSQL", 1))
    assert args.func(args) == 0
    assert asked == {"Cassandra": 3, "RabbitMQ": None, "PostgreSQL": "no count"}
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" [")[0] for line in lines] == [
        "Cassandra 1.0 up at 127.0.0.1:1",
        "Cassandra 1.0 up at 127.0.0.2:1",
        "Cassandra 1.0 up at 127.0.0.3:1",
        "RabbitMQ 1.0 up at 127.0.0.1:1",
        "PostgreSQL 1.0 up at 127.0.0.1:1",
    ]


@pytest.mark.parametrize("bad", ["0", "-1", "two"])
def test_a_node_count_must_be_positive(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["services", "up", "--rabbitmq-nodes", bad])
    assert "a node count is a positive integer" in capsys.readouterr().err


def test_only_up_takes_node_counts() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["services", "status", "--cassandra-nodes", "3"])


class _FakeProcesses:
    """Stands in for subprocess.Popen: records each command line and hands out pids 101, 102, ..."""

    def __init__(self) -> None:
        self.commands: list[list[str]] = []

    def __call__(self, cmd: list[str], **kwargs: Any) -> Any:
        self.commands.append(cmd)
        return SimpleNamespace(pid=100 + len(self.commands), env=kwargs.get("env"))


def _polling_wait(polls: list[str]) -> Any:
    """wait_until without sleeping: polls `ready` (recording `what`) until it holds, at most 5 times."""

    def wait_until(ready: Any, *, what: str, **_: Any) -> None:
        for _attempt in range(5):
            polls.append(what)
            if ready():
                return
        raise ServiceError(f"{what} not ready")

    return wait_until


def test_cassandra_nodes_start_one_by_one_each_waiting_to_join_node_1(monkeypatch: pytest.MonkeyPatch) -> None:
    popen, polls = _FakeProcesses(), []
    monkeypatch.setattr(cassandra.subprocess, "Popen", popen)
    monkeypatch.setattr(cassandra, "_java", lambda: "java")
    monkeypatch.setattr(cassandra, "fetch", lambda: Path("/lib"))
    monkeypatch.setattr(cassandra, "port_open", lambda host, port: False)
    monkeypatch.setattr(cassandra, "wait_until", _polling_wait(polls))
    _fake_pids(monkeypatch, cassandra)

    def launched() -> set[str]:
        return {cassandra.node_address(i) for i in range(1, len(popen.commands) + 1)}

    gossip_lag = iter([False, True] * 3)  # node 1 lists a new node one poll after it answers CQL
    monkeypatch.setattr(cassandra, "query_version", lambda hosts, settings: "5.0.8" if hosts[0] in launched() else None)
    seen: set[str] = set()

    def peers(settings: Any) -> set[str]:
        newest = cassandra.node_address(len(popen.commands))
        if newest != "127.0.0.1" and next(gossip_lag):
            seen.add(newest)
        return set(seen)

    monkeypatch.setattr(cassandra, "peers", peers)
    lines = [st.line() for st in cassandra.up(3)]
    assert lines == [
        f"Cassandra 5.0.8 up at 127.0.0.{i}:9042 (started by capillaries, pid {100 + i})" for i in (1, 2, 3)
    ]
    assert [cmd[1:3] for cmd in popen.commands] == [["-Xms512m", "-Xmx512m"]] * 3
    # Node 2 was polled until node 1 listed it, before node 3 started.
    assert (
        polls
        == ["Cassandra 5.0.8 at 127.0.0.1"]
        + ["Cassandra 5.0.8 at 127.0.0.2"] * 2
        + ["Cassandra 5.0.8 at 127.0.0.3"] * 2
    )
    conf = yaml.safe_load((cassandra.node_home(2) / "conf" / "cassandra.yaml").read_text())
    assert conf["listen_address"] == "127.0.0.2" and conf["data_file_directories"] == [f"{cassandra.node_home(2)}/data"]
    # A second `up` (no count: the state's 3) starts nothing and checks the same readiness.
    assert [st.line() for st in cassandra.up()] == lines and len(popen.commands) == 3


def test_rabbitmq_nodes_start_together_then_join_node_1(monkeypatch: pytest.MonkeyPatch) -> None:
    popen, polls, calls = _FakeProcesses(), [], []
    monkeypatch.setattr(rabbitmq.subprocess, "Popen", popen)
    monkeypatch.setattr(rabbitmq, "ensure_installed", lambda: None)
    monkeypatch.setattr(rabbitmq, "port_open", lambda host, port: False)
    monkeypatch.setattr(rabbitmq, "amqp_ready", lambda url: True)
    monkeypatch.setattr(rabbitmq, "_server_version", lambda url: "3.10.8")
    monkeypatch.setattr(rabbitmq, "wait_until", _polling_wait(polls))
    _fake_pids(monkeypatch, rabbitmq)
    members = {"capillaries@localhost"}

    def ctl(settings: Any, node: int, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        calls.append((rabbitmq.node_name(node), *args))
        if args[0] == "join_cluster":
            members.add(rabbitmq.node_name(node))
        status = {"disk_nodes": sorted(members), "running_nodes": sorted(members)}
        return subprocess.CompletedProcess(args, 0, json.dumps(status), "")

    monkeypatch.setattr(rabbitmq, "_ctl", ctl)
    lines = [st.line() for st in rabbitmq.up(3)]
    assert lines == [
        f"RabbitMQ 3.10.8 up at 127.0.0.1:{5671 + i} (started by capillaries, pid {100 + i})" for i in (1, 2, 3)
    ]
    assert len(popen.commands) == 3 and polls[:3] == [f"RabbitMQ node {rabbitmq.node_name(i)}" for i in (1, 2, 3)]
    assert polls[3:] == ["RabbitMQ cluster of 3 nodes"]
    assert [c for c in calls if c[1] != "cluster_status"] == [
        (name, *args)
        for name in ("capillaries2@localhost", "capillaries3@localhost")
        for args in (("stop_app",), ("join_cluster", "capillaries@localhost"), ("start_app",))
    ]
    assert (rabbitmq.node_home(1) / ".erlang.cookie").exists()


def test_a_hanging_rabbitmqctl_is_an_error_and_down_then_signals_the_node(monkeypatch: pytest.MonkeyPatch) -> None:
    def hang(cmd: list[str], **kwargs: Any) -> Any:
        raise subprocess.TimeoutExpired(cmd, kwargs["timeout"])

    monkeypatch.setattr(rabbitmq.subprocess, "run", hang)
    with pytest.raises(
        ServiceError, match=r"`rabbitmqctl -n capillaries2@localhost stop_app` did not finish within 60 s"
    ):
        rabbitmq._ctl(amqp_settings({}), 2, "stop_app")
    _homes(rabbitmq, 1)
    _fake_pids(monkeypatch, rabbitmq)
    stopped: list[int] = []
    monkeypatch.setattr(rabbitmq, "stop_pid", stopped.append)
    assert rabbitmq.down() == "RabbitMQ capillaries@localhost stopped (pid 1001)" and stopped == [1001]
