"""Provider metadata read by Airflow through the `apache_airflow_provider` entry point."""

from __future__ import annotations

from typing import Any

from capillaries_provider import __version__


def get_provider_info() -> dict[str, Any]:
    """Return the provider description; `package-name` must equal the distribution name."""
    return {
        "package-name": "capillaries-provider",
        "name": "Capillaries",
        "description": "Run Capillaries batch data-processing scripts as Airflow DAGs "
        "(Cassandra for state and data, RabbitMQ for batches, external Python workers).",
        "versions": [__version__],
    }
