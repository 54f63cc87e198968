"""Checks from Airflow that the Capillaries services answer: a first DAG that imports cleanly.

Parsing this file touches no network; the check runs only when the task runs.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task


@dag(
    dag_id="capillaries_services_check",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["capillaries"],
    doc_md=__doc__,
)
def capillaries_services_check() -> None:
    @task
    def services_status() -> dict[str, bool]:
        from capillaries_provider.services import cassandra, rabbitmq

        statuses = {f"{s.name} {s.address}": s.running for s in (*cassandra.status(), *rabbitmq.status())}
        if not all(statuses.values()):
            raise RuntimeError(f"services down: {statuses}")
        return statuses

    services_status()


capillaries_services_check()
