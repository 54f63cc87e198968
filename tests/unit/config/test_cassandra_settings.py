"""Cassandra cluster settings: replication, consistency, contact points and data centre, from the environment and
from an Airflow connection, and the routing and consistency objects the driver receives."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from cassandra import ConsistencyLevel
from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy
from cassandra.query import dict_factory, tuple_factory

from capillaries_provider.config import CONSISTENCY_LEVELS, CassandraSettings, cassandra_settings, simple_replication
from capillaries_provider.hooks.capillaries import cassandra_settings_from_connection
from capillaries_provider.services.airflow_local import connection_env
from capillaries_provider.store.session import execution_profile, serial_consistency

RF = "CAPILLARIES_CASSANDRA_REPLICATION_FACTOR"
MAP = "CAPILLARIES_CASSANDRA_REPLICATION"
CL = "CAPILLARIES_CASSANDRA_CONSISTENCY"


def test_defaults_are_one_local_node_at_rf_1_and_local_quorum() -> None:
    s = cassandra_settings({})
    assert s.hosts == ("127.0.0.1",) and s.port == 9042 and not s.external
    assert s.replication == "{'class': 'SimpleStrategy', 'replication_factor': 1}"
    assert s.consistency == "LOCAL_QUORUM" and s.local_dc is None
    assert s == CassandraSettings()


def test_contact_points_are_a_comma_separated_list() -> None:
    s = cassandra_settings({"CAPILLARIES_CASSANDRA_HOSTS": " 127.0.0.1, 127.0.0.2,,127.0.0.3 "})
    assert s.hosts == ("127.0.0.1", "127.0.0.2", "127.0.0.3") and s.external


def test_replication_factor_is_a_shorthand_for_simple_strategy() -> None:
    assert cassandra_settings({RF: "3"}).replication == "{'class': 'SimpleStrategy', 'replication_factor': 3}"
    nts = "{'class': 'NetworkTopologyStrategy', 'dc1': 3}"
    assert cassandra_settings({MAP: f" {nts} "}).replication == nts
    assert cassandra_settings({MAP: " ", RF: ""}).replication == CassandraSettings.replication
    assert cassandra_settings({MAP: " ", RF: " 2 "}).replication == simple_replication(2)


def test_replication_map_and_factor_together_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match=f"set either {MAP} or {RF}, not both"):
        cassandra_settings({MAP: "{'class': 'SimpleStrategy', 'replication_factor': 3}", RF: "3"})


@pytest.mark.parametrize("bad", ["0", "-1", "three", "2.5", "3 nodes"])
def test_a_replication_factor_must_be_a_positive_integer(bad: str) -> None:
    with pytest.raises(ValueError, match=f"{RF} must be a positive integer, got '{bad}'"):
        cassandra_settings({RF: bad})


@pytest.mark.parametrize(("given", "level"), [("quorum", "QUORUM"), (" Local_One ", "LOCAL_ONE"), ("ALL", "ALL")])
def test_consistency_names_are_case_insensitive(given: str, level: str) -> None:
    assert cassandra_settings({CL: given}).consistency == level


@pytest.mark.parametrize("bad", ["QUORUMS", "ANY", "serial", "LOCAL_SERIAL"])
def test_an_unknown_or_write_only_consistency_lists_the_valid_ones(bad: str) -> None:
    with pytest.raises(ValueError, match=f"{CL} is '{bad}', not a consistency level") as err:
        cassandra_settings({CL: bad})
    assert "LOCAL_QUORUM, EACH_QUORUM, LOCAL_ONE" in str(err.value)


def test_local_dc_is_optional() -> None:
    assert cassandra_settings({"CAPILLARIES_CASSANDRA_LOCAL_DC": " dc2 "}).local_dc == "dc2"
    assert cassandra_settings({"CAPILLARIES_CASSANDRA_LOCAL_DC": ""}).local_dc is None


@pytest.mark.parametrize(
    ("level", "serial"),
    [("LOCAL_QUORUM", "LOCAL_SERIAL"), ("LOCAL_ONE", "LOCAL_SERIAL"), ("QUORUM", "SERIAL"), ("EACH_QUORUM", "SERIAL")]
    + [(n, "SERIAL") for n in ("ONE", "TWO", "THREE", "ALL")],
)
def test_lwts_stay_local_only_with_a_local_consistency(level: str, serial: str) -> None:
    assert serial_consistency(ConsistencyLevel.name_to_value[level]) == ConsistencyLevel.name_to_value[serial]


def test_the_accepted_levels_are_the_drivers_read_write_levels() -> None:
    assert set(CONSISTENCY_LEVELS) == set(ConsistencyLevel.name_to_value) - {"ANY", "SERIAL", "LOCAL_SERIAL"}


def test_every_accepted_level_has_a_serial_level() -> None:
    for name in CONSISTENCY_LEVELS:
        assert serial_consistency(ConsistencyLevel.name_to_value[name]) in (
            ConsistencyLevel.SERIAL,
            ConsistencyLevel.LOCAL_SERIAL,
        )


def test_the_execution_profile_is_token_aware_dc_aware_at_the_configured_consistency() -> None:
    profile = execution_profile(cassandra_settings({CL: "quorum"}), tuple_factory, 12.5)
    policy = profile.load_balancing_policy
    assert isinstance(policy, TokenAwarePolicy)
    assert isinstance(policy._child_policy, DCAwareRoundRobinPolicy)
    assert policy._child_policy.local_dc == ""  # the driver takes the contact points' DC
    assert profile.consistency_level == ConsistencyLevel.QUORUM
    assert profile.serial_consistency_level == ConsistencyLevel.SERIAL
    assert profile.row_factory is tuple_factory and profile.request_timeout == 12.5

    default = execution_profile(cassandra_settings({"CAPILLARIES_CASSANDRA_LOCAL_DC": "dc2"}), dict_factory, 30.0)
    assert default.load_balancing_policy._child_policy.local_dc == "dc2"
    assert default.consistency_level == ConsistencyLevel.LOCAL_QUORUM
    assert default.serial_consistency_level == ConsistencyLevel.LOCAL_SERIAL


def _connection(extra: dict[str, Any] | None) -> Any:
    text = json.dumps(extra) if extra is not None else None
    return SimpleNamespace(
        conn_id="cass", host="10.0.0.1,10.0.0.2", port=9042, login=None, password=None, extra=text, extra_dejson=extra
    )


def test_a_connection_takes_the_same_settings_as_extras() -> None:
    s = cassandra_settings_from_connection(
        _connection({"replication_factor": 3, "consistency": "each_quorum", "local_dc": "dc1"})
    )
    assert s.hosts == ("10.0.0.1", "10.0.0.2") and s.external
    assert s.replication == "{'class': 'SimpleStrategy', 'replication_factor': 3}"
    assert (s.consistency, s.local_dc) == ("EACH_QUORUM", "dc1")
    ui = cassandra_settings_from_connection(_connection({"extra__cassandra__consistency": "ONE"}))
    assert ui.consistency == "ONE" and ui.replication == CassandraSettings.replication
    plain = cassandra_settings_from_connection(_connection(None))
    assert (plain.consistency, plain.local_dc) == ("LOCAL_QUORUM", None)


def test_connection_errors_name_the_extra_and_the_connection() -> None:
    with pytest.raises(ValueError, match="extra 'replication_factor' of Cassandra connection 'cass' must be a posit"):
        cassandra_settings_from_connection(_connection({"replication_factor": "0"}))
    with pytest.raises(ValueError, match="set either extra 'replication' of Cassandra connection 'cass' or extra"):
        cassandra_settings_from_connection(_connection({"replication_factor": "3", "replication": "{}"}))
    with pytest.raises(ValueError, match="extra 'consistency' of Cassandra connection 'cass' is 'most'"):
        cassandra_settings_from_connection(_connection({"consistency": "most"}))


def test_the_local_airflow_connection_carries_the_workers_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """`capillaries airflow up` hands the environment's settings to Airflow's `cassandra_default`, and reading that
    connection back gives the settings the workers use."""
    env = {RF: "3", CL: "quorum", "CAPILLARIES_CASSANDRA_LOCAL_DC": "dc1", "CAPILLARIES_CASSANDRA_HOSTS": "a,b"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(MAP, raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_CASSANDRA_DEFAULT", raising=False)
    conn = json.loads(connection_env()["AIRFLOW_CONN_CASSANDRA_DEFAULT"])
    fields = {k: conn[k] for k in ("host", "port", "login", "password")}
    extra = {"extra": json.dumps(conn["extra"]), "extra_dejson": conn["extra"]}
    back = cassandra_settings_from_connection(SimpleNamespace(conn_id="cassandra_default", **fields, **extra))
    workers = cassandra_settings()
    assert back.hosts == workers.hosts == ("a", "b")
    assert (back.replication, back.consistency, back.local_dc, back.writer_concurrency) == (
        "{'class': 'SimpleStrategy', 'replication_factor': 3}",
        "QUORUM",
        "dc1",
        workers.writer_concurrency,
    )
    assert (workers.replication, workers.consistency, workers.local_dc) == (back.replication, "QUORUM", "dc1")
