"""Provider metadata read by Airflow through the `apache_airflow_provider` entry point.

Plain data, no imports of Airflow or of our Airflow modules: provider discovery runs before configuration is ready.
"""

from __future__ import annotations

from typing import Any

from capillaries_provider import __version__


def _amqp_conn_fields() -> dict[str, Any]:
    return {
        "queue": {
            "label": "Queue",
            "description": "Work queue name (the .delay and .parked queues are derived from it).",
            "schema": {"type": ["string", "null"], "default": "capillaries"},
        },
        "retry_delay_ms": {
            "label": "Retry delay (ms)",
            "description": "Delay before a batch that is not ready yet is delivered again.",
            "schema": {"type": ["integer", "null"], "default": 2000, "minimum": 1},
        },
        "ssl": {
            "label": "Use TLS (amqps)",
            "description": "Connect with amqps instead of amqp.",
            "schema": {"type": ["boolean", "null"], "default": False},
        },
    }


def get_provider_info() -> dict[str, Any]:
    """Return the provider description; `package-name` must equal the distribution name."""
    return {
        "package-name": "capillaries-provider",
        "name": "Capillaries",
        "description": "Run Capillaries batch data-processing scripts as Airflow DAGs "
        "(Cassandra for state and data, RabbitMQ for batches, external Python workers).",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Capillaries",
                "external-doc-url": "https://capillaries.io",
                "tags": ["software"],
            }
        ],
        "hooks": [
            {
                "integration-name": "Capillaries",
                "python-modules": ["capillaries_provider.hooks.capillaries"],
            }
        ],
        "operators": [
            {
                "integration-name": "Capillaries",
                "python-modules": ["capillaries_provider.operators.node", "capillaries_provider.operators.run"],
            }
        ],
        "sensors": [
            {
                "integration-name": "Capillaries",
                "python-modules": ["capillaries_provider.sensors.capillaries"],
            }
        ],
        "triggers": [
            {
                "integration-name": "Capillaries",
                "python-modules": ["capillaries_provider.triggers.capillaries"],
            }
        ],
        "connection-types": [
            {
                "connection-type": "capillaries_amqp",
                "hook-class-name": "capillaries_provider.hooks.capillaries.CapillariesHook",
                "hook-name": "Capillaries RabbitMQ",
                "conn-fields": _amqp_conn_fields(),
                "ui-field-behaviour": {
                    "hidden-fields": ["extra"],
                    "relabeling": {"schema": "Virtual host"},
                    "placeholders": {"host": "rabbitmq.example.com", "port": "5672", "schema": "/"},
                },
            }
        ],
    }
