"""Airflow finds the provider through its entry point, and the names map dash-to-underscore."""

from __future__ import annotations

from importlib.metadata import entry_points, version

from capillaries_provider.get_provider_info import get_provider_info


def test_entry_point_returns_provider_info_matching_distribution() -> None:
    (ep,) = [ep for ep in entry_points(group="apache_airflow_provider") if ep.value.startswith("capillaries_provider")]
    info = ep.load()()
    assert info == get_provider_info()
    assert info["package-name"] == "capillaries-provider"
    assert info["package-name"].replace("-", "_") == "capillaries_provider"
    assert info["versions"] == [version("capillaries-provider")]
