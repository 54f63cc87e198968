"""DAG factory structure: tasks, dependencies, trigger rules, params and docs, without any database."""

from __future__ import annotations

import json
from pathlib import Path

import pendulum
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "dags" / "capillaries_examples"
SHOP = EXAMPLES / "shop_orders" / "script.json"


def _params(tmp_path: Path, policy: str = "auto") -> str:
    p = tmp_path / "params.json"
    p.write_text(
        json.dumps(
            {
                "dir_in": "/in",
                "dir_out": "/out",
                "dir_py": str(EXAMPLES / "shop_orders" / "py"),
                "totals_start_policy": policy,
            }
        )
    )
    return str(p)


def _shop_dag(tmp_path: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    from capillaries_provider import CapillariesDag

    return CapillariesDag(
        dag_id="shop",
        script_path=str(SHOP),
        params_path=_params(tmp_path),
        keyspace="shop_ks",
        schedule=None,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        **kwargs,
    )


def test_one_task_per_node_between_start_and_finish(tmp_path: Path) -> None:
    dag = _shop_dag(tmp_path)
    ups = {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks}
    assert ups == {
        "start_run": [],
        "read_customers": ["start_run"],
        "read_orders": ["start_run"],
        "customer_totals": ["read_customers", "read_orders"],
        "customer_tiers": ["customer_totals"],
        "file_customer_tiers": ["customer_tiers"],
        "file_country_totals": ["customer_totals"],
        "finish_run": ["file_country_totals", "file_customer_tiers"],
    }
    assert [t.task_id for t in dag.roots] == ["start_run"]
    assert [t.task_id for t in dag.leaves] == ["finish_run"]


def test_trigger_rules_let_nodes_run_after_skipped_upstream(tmp_path: Path) -> None:
    dag = _shop_dag(tmp_path)
    rules = {t.task_id: t.trigger_rule for t in dag.tasks}
    assert rules["start_run"] == "all_success"
    assert rules["customer_totals"] == "none_failed"
    assert rules["finish_run"] == "all_done"


def test_node_desc_is_task_doc(tmp_path: Path) -> None:
    dag = _shop_dag(tmp_path)
    doc = dag.get_task("customer_tiers").doc_md
    assert doc.startswith("Assign a loyalty tier and the average order value in Python (py_calc)")
    assert "`table_custom_tfm_table`" in doc and "`py_calc`" in doc and "`customer_tiers`" in doc


def test_params_default_to_file_readers_and_offer_node_names(tmp_path: Path) -> None:
    dag = _shop_dag(tmp_path)
    assert dag.params["keyspace"] == "shop_ks"
    assert dag.params["start_nodes"] == ["read_customers", "read_orders"]
    assert dag.params["description"] == ""
    assert dag.params["params_path"] == str(tmp_path / "params.json")
    schema = dag.params.get_param("start_nodes").schema
    assert schema["items"]["enum"] == [
        "read_customers",
        "read_orders",
        "customer_totals",
        "customer_tiers",
        "file_customer_tiers",
        "file_country_totals",
    ]
    with pytest.raises(Exception, match="shop-ks|pattern|does not match"):
        dag.params.get_param("keyspace").resolve("shop-ks")


def test_explicit_start_nodes_and_user_params_are_kept(tmp_path: Path) -> None:
    from airflow.sdk import Param

    dag = _shop_dag(tmp_path, start_nodes=["customer_totals"], params={"extra": Param(3, type="integer")})
    assert dag.params["start_nodes"] == ["customer_totals"]
    assert dag.params["extra"] == 3


def test_start_run_is_templated_from_params(tmp_path: Path) -> None:
    dag = _shop_dag(tmp_path)
    start = dag.get_task("start_run")
    assert start.keyspace == "{{ params.keyspace }}"
    assert start.start_nodes == "{{ params.start_nodes | tojson }}"
    assert set(start.template_fields) == {"keyspace", "params_path", "start_nodes", "description"}
    node = dag.get_task("customer_totals")
    assert node.node == "customer_totals" and node.start_run_task_id == "start_run"


def test_task_group_prefixes_ids_and_wires_to_its_own_start(tmp_path: Path) -> None:
    from airflow.sdk import DAG

    from capillaries_provider import CapillariesTaskGroup

    with DAG(dag_id="outer", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
        group = CapillariesTaskGroup(
            group_id="load",
            script_path=str(SHOP),
            params_path=_params(tmp_path),
            keyspace="k1",
            start_nodes="read_orders",
        )
    assert group.group_id == "load"
    assert dag.get_task("load.customer_totals").upstream_task_ids == {"load.read_customers", "load.read_orders"}
    assert dag.get_task("load.read_orders").start_run_task_id == "load.start_run"
    assert dag.get_task("load.finish_run").start_run_task_id == "load.start_run"
    assert dag.get_task("load.start_run").start_nodes == "read_orders"
    assert dag.get_task("load.start_run").keyspace == "k1"


def test_node_names_airflow_refuses_are_normalised_and_clashes_rejected(tmp_path: Path) -> None:
    from airflow.sdk import DAG

    from capillaries_provider.dag import build_airflow_graph, node_task_id
    from capillaries_provider.script.loader import load_script_text

    assert node_task_id("1_read accounts/x") == "1_read_accounts_x"
    script_text = (
        SHOP.read_text().replace('"read_customers"', '"start_run"').replace('"r.customer_id"', '"r.customer_id"')
    )
    params = json.loads(Path(_params(tmp_path)).read_text())
    script = load_script_text(script_text, fmt="json", params=params)
    with DAG(dag_id="clash", schedule=None), pytest.raises(ValueError, match="start_run"):
        build_airflow_graph(script, script_path="x", keyspace="k", params_path="", start_nodes=["start_run"])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["a", "b"], ["a", "b"]),
        ('["a", "b"]', ["a", "b"]),
        ("['a', 'b']", ["a", "b"]),
        ("a, b,", ["a", "b"]),
        ("", []),
        (None, []),
    ],
)
def test_start_nodes_accept_lists_rendered_lists_and_comma_text(value: object, expected: list[str]) -> None:
    from capillaries_provider.operators.run import parse_node_list

    assert parse_node_list(value) == expected  # type: ignore[arg-type]


def test_start_nodes_reject_code() -> None:
    from capillaries_provider.operators.run import parse_node_list

    with pytest.raises(ValueError, match="not a list of node names"):
        parse_node_list("[__import__('os')]")


def test_script_cache_reloads_only_changed_files(tmp_path: Path) -> None:
    from capillaries_provider.operators.script_cache import load_script_cached

    script = tmp_path / "s.json"
    script.write_text(SHOP.read_text())
    params = _params(tmp_path)
    first = load_script_cached(str(script), params)
    assert load_script_cached(str(script), params) is first
    script.write_text(SHOP.read_text().replace("Load the customer list", "Load customers"))
    second = load_script_cached(str(script), params)
    assert second is not first
    assert second.nodes["read_customers"].desc.startswith("Load customers")


def test_local_params_file_is_written_once(tmp_path: Path) -> None:
    from capillaries_provider.dag import local_params_file

    path = Path(local_params_file("ex", {"b": 1, "a": "x"}, directory=str(tmp_path)))
    assert json.loads(path.read_text()) == {"a": "x", "b": 1}
    mtime = path.stat().st_mtime_ns
    assert local_params_file("ex", {"a": "x", "b": 1}, directory=str(tmp_path)) == str(path)
    assert path.stat().st_mtime_ns == mtime


def test_node_tasks_update_an_asset_per_output_table_or_file(tmp_path: Path) -> None:
    from airflow.sdk import Asset

    dag = _shop_dag(tmp_path)
    assert dag.get_task("customer_totals").outlets == [
        Asset(name="capillaries/shop_ks/customer_totals", uri="capillaries://shop_ks/customer_totals")
    ]
    assert dag.get_task("file_customer_tiers").outlets == [Asset(uri="file:///out/customer_tiers.csv")]
    assert dag.get_task("start_run").outlets == []
    assert _shop_dag(tmp_path, emit_assets=False).get_task("customer_totals").outlets == []


def test_files_named_per_batch_or_run_get_no_asset(tmp_path: Path) -> None:
    from capillaries_provider.dag import node_assets
    from capillaries_provider.operators.script_cache import load_script_cached

    params = tmp_path / "daily.json"
    params.write_text(json.dumps({"dir_in": "/in", "dir_out": "/out"}))
    script = load_script_cached(str(EXAMPLES / "daily_sales" / "script.json"), str(params))
    assert script.nodes["file_large_sales"].file_creator.url_template == "/out/large_sales_{run_id|string}.csv"
    assert node_assets(script.nodes["file_large_sales"], "k") == []
    assert [a.uri for a in node_assets(script.nodes["large_sales"], "k")] == ["capillaries://k/large_sales"]
