"""A relying party's back-channel and front-channel logout endpoints, as a real HTTP server.

It verifies every logout token the way Back-Channel Logout 1.0 §2.6 tells an RP to, using
joserfc (independent of the PyJWT code that signs them) and the provider's JWKS.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tests.support.live import LiveServer, free_port

EVENT = "http://schemas.openid.net/event/backchannel-logout"


@dataclass
class Received:
    claims: dict[str, Any]
    header: dict[str, Any]
    at: float


@dataclass
class FakeRP:
    """``mode``: ok | slow | error | reject. ``fail_first`` answers 503 that many times first."""

    issuer: str
    client_id: str = ""
    mode: str = "ok"
    delay: float = 0.0
    fail_first: int = 0
    received: list[Received] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    attempts: int = 0
    frontchannel_hits: list[dict[str, str]] = field(default_factory=list)
    _seen_jti: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/backchannel", self._backchannel, methods=["POST"]),
                Route("/frontchannel", self._frontchannel, methods=["GET"]),
                Route("/cb", self._callback, methods=["GET"]),
                Route("/", self._callback, methods=["GET"]),
            ]
        )

    async def _callback(self, request: Request) -> Response:
        return PlainTextResponse("ok")

    async def _frontchannel(self, request: Request) -> Response:
        self.frontchannel_hits.append(dict(request.query_params))
        return PlainTextResponse("front-channel logout done")

    async def _backchannel(self, request: Request) -> Response:
        with self._lock:
            self.attempts += 1
            attempt = self.attempts
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.mode == "error" or attempt <= self.fail_first:
            return PlainTextResponse(
                "unavailable", status_code=503 if self.mode != "error" else 500
            )
        form = await request.form()
        if set(form.keys()) != {"logout_token"}:
            self.problems.append(f"unexpected form fields {sorted(form.keys())}")
        token = str(form.get("logout_token", ""))
        problem = await self._verify(token)
        if problem:
            self.problems.append(problem)
            return PlainTextResponse(problem, status_code=400)
        if self.mode == "reject":
            return PlainTextResponse("no", status_code=400)
        return Response(status_code=200, headers={"Cache-Control": "no-store"})

    async def _verify(self, token: str) -> str | None:
        async with httpx.AsyncClient() as http:
            jwks = (await http.get(f"{self.issuer}/jwks")).json()
        try:
            decoded = jwt.decode(
                token, KeySet.import_key_set(jwks), algorithms=["ES256", "RS256", "EdDSA"]
            )
        except (JoseError, ValueError) as exc:
            return f"bad signature: {exc}"
        header, claims = dict(decoded.header), dict(decoded.claims)
        now = time.time()
        checks = {
            "typ logout+jwt": header.get("typ") == "logout+jwt",
            "iss": claims.get("iss") == self.issuer,
            "aud": claims.get("aud") == self.client_id
            or self.client_id in (claims.get("aud") or []),
            "iat": isinstance(claims.get("iat"), int) and claims["iat"] <= now + 300,
            "exp": isinstance(claims.get("exp"), int) and claims["exp"] > now,
            "jti": isinstance(claims.get("jti"), str),
            "events": claims.get("events") == {EVENT: {}},
            "sid and sub": bool(claims.get("sid")) and bool(claims.get("sub")),
            "no nonce": "nonce" not in claims,
        }
        failed = [name for name, ok in checks.items() if not ok]
        if failed:
            return "invalid logout token: " + ", ".join(failed)
        with self._lock:
            if claims["jti"] in self._seen_jti:
                return "replayed jti"
            self._seen_jti.add(claims["jti"])
            self.received.append(Received(dict(claims), header, now))
        return None


class RPServer:
    def __init__(self, rp: FakeRP) -> None:
        self.rp = rp
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = LiveServer(rp.app(), self.port)

    def start(self) -> RPServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
