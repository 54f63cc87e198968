"""The local Airflow's REST API as `capillaries airflow trigger` and the end-to-end tests use it.

Right after `airflow up` the stack is still settling: the api-server may refuse connections or answer 5xx while a
component starts, and a DAG file is not in the API until the dag-processor parsed it. Those failures are retried
within a bounded budget that is printed; anything else (or the budget running out) raises with the API's own
error text and the log file to look at.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from capillaries_provider.services.process import ServiceError

RETRY_BUDGET_S = 120.0
FINAL_STATES = ("success", "failed")


def _error_text(exc: urllib.error.HTTPError) -> str:
    """The `detail` the API put in its error body (or the body itself)."""
    try:
        body = exc.read().decode(errors="replace")
    except OSError:
        return exc.reason if isinstance(exc.reason, str) else ""
    try:
        detail = json.loads(body).get("detail", body)
    except (ValueError, AttributeError):
        detail = body
    return (detail if isinstance(detail, str) else json.dumps(detail))[:500]


@dataclass
class Client:
    """Calls as user `username`; `notify` receives the one line saying a transient failure is being retried."""

    base_url: str
    username: str
    password: str
    log_file: Path
    budget_s: float = RETRY_BUDGET_S
    notify: Callable[[str], None] = lambda _line: None
    _token: str | None = field(default=None, repr=False)

    def call(self, method: str, path: str, body: object | None = None, *, dag_may_be_new: bool = False) -> Any:
        """One API call; 5xx and refused connections (and 404 when `dag_may_be_new`) are retried within the budget."""
        began = time.monotonic()
        delay = 1.0
        while True:
            try:
                return self._request(method, path, body)
            except urllib.error.HTTPError as exc:
                reason = f"HTTP {exc.code}: {_error_text(exc)}"
                transient = exc.code >= 500 or (exc.code == 404 and dag_may_be_new)
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                reason = str(getattr(exc, "reason", exc))
                transient = True
            waited = time.monotonic() - began
            if not transient or waited + delay > self.budget_s:
                after = f" (retried for {waited:.0f} s)" if waited >= 1 else ""
                raise ServiceError(f"Airflow API {method} {path}: {reason}{after}; see {self.log_file}")
            if delay == 1.0:  # the first retry
                self.notify(f"Airflow API {method} {path}: {reason}; retrying for up to {self.budget_s:.0f} s")
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _request(self, method: str, path: str, body: object | None) -> Any:
        headers = {"Content-Type": "application/json"}
        if not path.startswith("/auth/"):
            headers["Authorization"] = f"Bearer {self.token()}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.base_url}{path}", data=data, headers=headers, method=method)
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.load(resp)

    def token(self) -> str:
        if self._token is None:
            answer = self.call("POST", "/auth/token", {"username": self.username, "password": self.password})
            self._token = str(answer["access_token"])
        return self._token

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{_quote(run_id)}")
        return result

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
        answer = self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{_quote(run_id)}/taskInstances?limit=1000")
        return {str(ti["task_id"]): ti for ti in answer["task_instances"]}

    def trigger(self, dag_id: str, conf: dict[str, object]) -> str:
        """Unpause the DAG (waiting for it to be parsed) and start a run; returns the DAG run id."""
        self.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False}, dag_may_be_new=True)
        run = self.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})
        return str(run["dag_run_id"])

    def wait(self, dag_id: str, run_id: str, *, timeout: float, poll_s: float = 3.0) -> str:
        """Poll the DAG run until it is final; returns its state."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = str(self.dag_run(dag_id, run_id)["state"])
            if state in FINAL_STATES:
                return state
            time.sleep(poll_s)
        raise ServiceError(f"DAG run {run_id} of {dag_id} did not finish within {timeout:.0f} s; see {self.log_file}")


def _quote(run_id: str) -> str:
    return urllib.parse.quote(run_id, safe="")
