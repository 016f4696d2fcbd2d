"""The notifier contract (idp.notify.contract) run against the in-memory fake and the real
adapters: SMTP against a real SMTP server on loopback, SMS against a real HTTP gateway on
loopback. Only the far side is ours."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_string
from email.message import Message as EmailMessage

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from idp.notify.backends.memory import MemoryNotifier
from idp.notify.backends.sms_http import HttpSmsNotifier
from idp.notify.backends.smtp import SmtpNotifier
from idp.notify.contract import Arrived, NotifierContract, NotifierHarness
from idp.notify.protocol import Channel, Notifier
from idp.settings import SmsGatewaySettings, SmtpSettings
from tests.support.smtp_sink import SmtpSink


@dataclass
class MemoryHarness:
    fake: MemoryNotifier = field(default_factory=MemoryNotifier)
    channel: Channel = "sms"
    secrets: Sequence[str] = ()

    @property
    def notifier(self) -> Notifier:
        return self.fake

    async def arrived(self) -> list[Arrived]:
        return [Arrived(m.to, m.body) for m in self.fake.sent]

    async def fail(self, *, permanent: bool) -> None:
        self.fake.fail_always(permanent=permanent)

    async def recover(self) -> None:
        self.fake.recover()


class TestMemoryNotifier(NotifierContract):
    @asynccontextmanager
    async def harness(self) -> AsyncIterator[NotifierHarness]:
        yield MemoryHarness()


class TestMemoryNotifierFailNext(NotifierContract):
    """The one-shot failures tests use most: fail the next send only."""

    @asynccontextmanager
    async def harness(self) -> AsyncIterator[NotifierHarness]:
        yield _FailNextHarness(channel="email")


@dataclass
class _FailNextHarness(MemoryHarness):
    async def fail(self, *, permanent: bool) -> None:
        self.fake.fail_next(1, permanent=permanent)


def _text(parsed: EmailMessage) -> str:
    payload = parsed.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(parsed.get_content_charset() or "ascii")


@dataclass
class SmtpHarness:
    sink: SmtpSink
    notifier: SmtpNotifier
    channel: Channel = "email"
    secrets: Sequence[str] = ()

    async def arrived(self) -> list[Arrived]:
        found = []
        for received in self.sink.messages:
            text = _text(message_from_string(received.data))
            found += [Arrived(recipient.strip("<>"), text) for recipient in received.recipients]
        return found

    async def fail(self, *, permanent: bool) -> None:
        # Real servers quote the refused address; the reason must not.
        code = "550 5.1.1" if permanent else "450 4.2.1"
        self.sink.refuse_with = f"{code} {{rcpt}}: recipient unavailable"

    async def recover(self) -> None:
        self.sink.refuse_with = None


class TestSmtpNotifier(NotifierContract):
    @asynccontextmanager
    async def harness(self) -> AsyncIterator[NotifierHarness]:
        sink = await SmtpSink().start()
        settings = SmtpSettings(host="127.0.0.1", port=sink.port, sender="idp <no-reply@idp.test>")
        try:
            yield SmtpHarness(sink, SmtpNotifier(settings))
        finally:
            await sink.stop()


@dataclass
class Gateway:
    status: int = 200
    received: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    async def sms(self, request: Request) -> Response:
        if request.headers.get("authorization") != "Bearer gw-header-secret":
            return PlainTextResponse("who are you", status_code=401)
        if request.query_params.get("key") != "gw-url-secret":
            return PlainTextResponse("bad key", status_code=401)
        if self.status == 200:
            body = json.loads(await request.body())
            self.received.append((request.url.path, body))
        return PlainTextResponse("queued", status_code=self.status)


@dataclass
class GatewayHarness:
    gateway: Gateway
    notifier: HttpSmsNotifier
    channel: Channel = "sms"
    secrets: Sequence[str] = ("gw-header-secret", "gw-url-secret")

    async def arrived(self) -> list[Arrived]:
        return [Arrived(body["phone"], body["message"]) for _, body in self.gateway.received]

    async def fail(self, *, permanent: bool) -> None:
        self.gateway.status = 400 if permanent else 503

    async def recover(self) -> None:
        self.gateway.status = 200


class TestHttpSmsNotifier(NotifierContract):
    @asynccontextmanager
    async def harness(self) -> AsyncIterator[NotifierHarness]:
        gateway = Gateway()
        app = Starlette(routes=[Route("/sms", gateway.sms, methods=["POST"])])
        # Bound here, before the server starts, so no other test can take the port in between.
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            while not server.started:
                if serving.done():
                    await serving  # raises why the server could not start
                await asyncio.sleep(0.01)
            settings = SmsGatewaySettings(
                url=f"http://127.0.0.1:{port}/sms?key=gw-url-secret",
                auth_header="Bearer gw-header-secret",
                body_template='{"phone": "{to}", "message": "{text}"}',
                timeout=10,
            )
            yield GatewayHarness(gateway, HttpSmsNotifier(settings))
        finally:
            server.should_exit = True
            await serving
            sock.close()
