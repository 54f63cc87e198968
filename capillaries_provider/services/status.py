"""The status record every local service reports."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    running: bool
    address: str
    version: str | None = None
    # "started by capillaries (pid N)", "external", "not started by capillaries"...
    origin: str = ""
    detail: str = ""

    def line(self) -> str:
        state = "up" if self.running else "down"
        version = f" {self.version}" if self.version else ""
        origin = f" ({self.origin})" if self.origin else ""
        detail = f": {self.detail}" if self.detail and not self.running else ""
        return f"{self.name}{version} {state} at {self.address}{origin}{detail}"


def origin(*, external: bool, pid: int | None, answering: bool) -> str:
    """Who runs a service: the user's external one, our process (by pid), or someone else on our port."""
    if external:
        return "external"
    if pid is not None:
        return f"started by capillaries, pid {pid}"
    return "not started by capillaries" if answering else ""
