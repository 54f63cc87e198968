"""The REST client's retry rules against a real HTTP server on 127.0.0.1: transient failures are retried within the
budget (and said once), others fail at once with the API's error text and the log to read."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from capillaries_provider.services.airflow_api import Client
from capillaries_provider.services.process import ServiceError


class _Api(BaseHTTPRequestHandler):
    answers: list[tuple[int, dict[str, object]]] = []

    def _answer(self) -> None:
        code, body = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _client(base: str, budget: float, said: list[str]) -> Client:
    client = Client(base, "admin", "pw", log_file=Path("/x/api-server.log"), budget_s=budget, notify=said.append)
    client._token = "t"
    return client


def test_5xx_is_retried_and_said_once(server: str) -> None:
    _Api.answers = [(500, {"detail": "database is locked"}), (200, {"state": "success"})]
    said: list[str] = []
    assert _client(server, 10, said).call("GET", "/api/v2/x") == {"state": "success"}
    assert said == ["Airflow API GET /api/v2/x: HTTP 500: database is locked; retrying for up to 10 s"]


def test_dag_not_parsed_yet_is_retried_only_when_asked(server: str) -> None:
    _Api.answers = [(404, {"detail": "DAG not found"}), (200, {"is_paused": False})]
    assert _client(server, 10, []).call("PATCH", "/api/v2/dags/d", {}, dag_may_be_new=True) == {"is_paused": False}
    _Api.answers = [(404, {"detail": "DAG not found"}), (200, {})]
    with pytest.raises(ServiceError) as err:
        _client(server, 10, []).call("GET", "/api/v2/dags/d")
    assert str(err.value) == "Airflow API GET /api/v2/dags/d: HTTP 404: DAG not found; see /x/api-server.log"


def test_gives_up_after_the_budget_with_the_api_error_text(server: str) -> None:
    _Api.answers = [(503, {"detail": "scheduler starting"})]
    with pytest.raises(ServiceError) as err:
        _client(server, 2.5, []).call("GET", "/api/v2/x")
    assert str(err.value) == (
        "Airflow API GET /api/v2/x: HTTP 503: scheduler starting (retried for 1 s); see /x/api-server.log"
    )


def test_refused_connection_is_transient() -> None:
    said: list[str] = []
    with pytest.raises(ServiceError, match=r"Connection refused.*\(retried for 1 s\); see /x/api-server.log"):
        _client("http://127.0.0.1:9", 2.5, said).call("GET", "/api/v2/x")
    assert len(said) == 1 and said[0].endswith("retrying for up to 2 s")
