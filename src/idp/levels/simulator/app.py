"""The simulator's HTTP face: the wire protocol of the ``http`` verifier (docs/registries.md)
plus the admin endpoints tests and demos steer it with. A Starlette app of its own, with no
part of idp's application context: ``idp registry-sim`` serves it alone, dev mode mounts it at
``/_registry-sim``.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from idp.levels.simulator.state import (
    REGISTRIES,
    Full,
    Simulator,
    SimulatorConfig,
    Unavailable,
)

PROBLEM = "application/problem+json"
MAX_LATENCY = 86400.0  # seconds; the same bounds as idp registry-sim's options
MAX_RESPONSE_DELAY = 600.0
MAX_OUTAGE = 86400.0
Name = Annotated[str, Field(min_length=1, max_length=100)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)

    @field_validator("birth_date", "issued_on", mode="before", check_fields=False)
    @classmethod
    def _iso_date(cls, value: Any) -> Any:
        # Only YYYY-MM-DD: pydantic alone would take a timestamp number too.
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError("a date as YYYY-MM-DD")
        return value


class PersonBody(_Body):
    snils: Annotated[str, Field(pattern=r"^\d{11}$")]
    last_name: Name
    first_name: Name
    middle_name: Name | None = None
    sex: Literal["male", "female"]
    birth_date: date


class DocumentBody(_Body):
    kind: Literal["ru_passport", "foreign_passport"]
    series: Annotated[str, Field(pattern=r"^[0-9A-Za-z]{1,10}$")] | None = None
    number: Annotated[str, Field(pattern=r"^[0-9A-Za-z]{1,20}$")]
    issued_on: date
    last_name: Name
    first_name: Name
    middle_name: Name | None = None
    birth_date: date
    citizenship: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class InnBody(_Body):
    inn: Annotated[str, Field(pattern=r"^\d{12}$")]
    last_name: Name
    first_name: Name
    middle_name: Name | None = None
    birth_date: date
    document_series: Annotated[str, Field(max_length=10)] | None = None
    document_number: Annotated[str, Field(min_length=1, max_length=20)]


BODIES: dict[str, type[_Body]] = {"person": PersonBody, "document": DocumentBody, "inn": InnBody}


class ConfigBody(BaseModel):
    # Finite numbers only (JSON's ``Infinity``/``NaN`` would hang every call), within the
    # bounds of the ``idp registry-sim`` options.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    latency: Annotated[float, Field(ge=0, le=MAX_LATENCY)] | None = None
    failure_rate: Annotated[float, Field(ge=0, le=1)] | None = None
    response_delay: Annotated[float, Field(ge=0, le=MAX_RESPONSE_DELAY)] | None = None
    accept_unknown: bool | None = None
    retry_after: Annotated[int, Field(ge=0, le=86400)] | None = None
    outage_seconds: Annotated[float, Field(gt=0, le=MAX_OUTAGE)] | None = None


def problem(status: int, title: str, errors: list[dict[str, str]] | None = None) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def _field_errors(exc: ValidationError) -> list[dict[str, str]]:
    # The field's name and what is wrong with it; never the value sent.
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
        for e in exc.errors(include_input=False, include_url=False)
    ]


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return _NOT_JSON


_NOT_JSON = object()


def _not_json(request: Request) -> Response | None:
    """Every POST and PUT says ``Content-Type: application/json``: a cross-site form post
    (``text/plain``, no preflight) cannot reach the simulator."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "application/json":
        return None
    return problem(415, "Content-Type must be application/json")


def build_app(config: SimulatorConfig | None = None) -> Starlette:
    """The simulator as an ASGI app; its state is ``app.state.simulator``."""
    sim = Simulator(config or SimulatorConfig())

    async def registry_call(request: Request) -> tuple[str, Response | None]:
        registry = request.path_params["registry"]
        if registry not in REGISTRIES:
            return registry, problem(404, "No such registry")
        if sim.config.response_delay > 0:
            await asyncio.sleep(sim.config.response_delay)
        try:
            sim.admit()
        except Unavailable as down:
            response = problem(503, "The registry is unavailable")
            response.headers["Retry-After"] = str(down.retry_after)
            return registry, response
        return registry, None

    async def submit(request: Request) -> Response:
        if (wrong := _not_json(request)) is not None:
            return wrong
        registry, refused = await registry_call(request)
        if refused is not None:
            return refused
        key = request.headers.get("idempotency-key", "")
        if not 1 <= len(key) <= 200:
            return problem(
                400, "Bad request", [{"field": "Idempotency-Key", "message": "required"}]
            )
        raw = await _json(request)
        if not isinstance(raw, dict):
            return problem(400, "Bad request", [{"field": "body", "message": "a JSON object"}])
        try:
            query = BODIES[registry].model_validate(raw)
        except ValidationError as exc:
            return problem(400, "Bad request", _field_errors(exc))
        try:
            reference, created = sim.submit(registry, key, query.model_dump(mode="json"))
        except Full:
            response = problem(503, "The registry holds too many requests")
            response.headers["Retry-After"] = str(sim.config.retry_after or 1)
            return response
        return JSONResponse({"reference": reference}, status_code=202 if created else 200)

    async def answer(request: Request) -> Response:
        registry, refused = await registry_call(request)
        if refused is not None:
            return refused
        verdict = sim.answer(registry, request.path_params["reference"])
        if verdict is None:
            return problem(404, "No such request")
        if verdict.status == "pending":
            return JSONResponse({"status": "pending"})
        return JSONResponse({"status": verdict.status, "fields": list(verdict.fields)})

    async def acknowledge(request: Request) -> Response:
        if (wrong := _not_json(request)) is not None:
            return wrong
        registry, refused = await registry_call(request)
        if refused is not None:
            return refused
        if not sim.acknowledge(registry, request.path_params["reference"]):
            return problem(404, "No such request")
        return Response(status_code=204)

    async def put_config(request: Request) -> Response:
        if (wrong := _not_json(request)) is not None:
            return wrong
        raw = await _json(request)
        if not isinstance(raw, dict):
            return problem(400, "Bad request", [{"field": "body", "message": "a JSON object"}])
        try:
            body = ConfigBody.model_validate(raw)
        except ValidationError as exc:
            return problem(400, "Bad request", _field_errors(exc))
        changes = body.model_dump(exclude_unset=True)
        if any(v is None for k, v in changes.items() if k != "outage_seconds"):
            return problem(400, "Bad request", [{"field": "body", "message": "null"}])
        sim.configure(changes)
        return JSONResponse(_config_json(sim))

    async def get_config(_request: Request) -> Response:
        return JSONResponse(_config_json(sim))

    async def stats(_request: Request) -> Response:
        return JSONResponse(sim.stats_json())

    async def reset(request: Request) -> Response:
        if (wrong := _not_json(request)) is not None:
            return wrong
        sim.reset()
        return Response(status_code=204)

    app = Starlette(
        routes=[
            Route("/v1/{registry}/requests", submit, methods=["POST"]),
            Route("/v1/{registry}/requests/{reference}", answer, methods=["GET"]),
            Route("/v1/{registry}/requests/{reference}/ack", acknowledge, methods=["POST"]),
            Route("/admin/config", put_config, methods=["PUT"]),
            Route("/admin/config", get_config, methods=["GET"]),
            Route("/admin/stats", stats, methods=["GET"]),
            Route("/admin/reset", reset, methods=["POST"]),
        ]
    )
    app.state.simulator = sim
    return app


def _config_json(sim: Simulator) -> dict[str, Any]:
    config = sim.config
    return {
        "latency": config.latency,
        "failure_rate": config.failure_rate,
        "response_delay": config.response_delay,
        "accept_unknown": config.accept_unknown,
        "retry_after": config.retry_after,
        "outage_seconds": sim.outage_left(),
    }
