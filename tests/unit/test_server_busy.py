"""``ServerBusy`` in each rendering: RFC 6749 ``temporarily_unavailable`` on protocol routes,
a problem on the API; always 503 with Retry-After."""

from __future__ import annotations

import json

from idp.errors import ServerBusy
from idp.http.responses import problem_json, protocol_json


def test_protocol_routes_answer_temporarily_unavailable() -> None:
    response = protocol_json(ServerBusy(retry_after=2))
    assert response.status_code == 503
    assert json.loads(response.body) == {"error": "temporarily_unavailable"}
    assert response.headers["retry-after"] == "2"
    assert response.headers["cache-control"] == "no-store"


def test_the_api_answers_a_server_busy_problem() -> None:
    response = problem_json(ServerBusy(retry_after=3), "/api/v1/login", issuer="https://idp.test")
    body = json.loads(response.body)
    assert response.status_code == 503
    assert body["type"] == "https://idp.test/problems/server-busy"
    assert body["status"] == 503
    assert "detail" not in body  # nothing from a 5xx is shown
    assert response.headers["retry-after"] == "3"
