"""The real notification adapters against real servers on loopback: an SMTP server and an
HTTP SMS gateway. Only the far side (the gateway, the mail server) is ours."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from email import message_from_string
from email.header import decode_header, make_header

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from idp.app import create_app
from idp.notify.backends.sms_http import HttpSmsNotifier
from idp.notify.backends.smtp import SmtpNotifier
from idp.notify.protocol import DeliveryFailed, Message
from idp.settings import Settings, SmsGatewaySettings, SmtpSettings
from tests.support.live import LiveServer, free_port
from tests.support.production import production
from tests.support.smtp_sink import SmtpSink


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpSink]:
    sink = await SmtpSink().start()
    yield sink
    await sink.stop()


async def test_smtp_adapter_delivers_a_message(smtp: SmtpSink) -> None:
    notifier = SmtpNotifier(
        SmtpSettings(host="127.0.0.1", port=smtp.port, sender="idp <no-reply@idp.test>")
    )
    await notifier.send(Message("email", "anna@example.ru", "Подтвердите адрес", "ссылка: x"))
    assert len(smtp.messages) == 1
    received = smtp.messages[0]
    assert received.recipients == ["<anna@example.ru>"]
    parsed = message_from_string(received.data)
    assert str(make_header(decode_header(parsed["Subject"]))) == "Подтвердите адрес"
    assert parsed["To"] == "anna@example.ru"


async def test_smtp_refused_recipient_is_a_permanent_failure(smtp: SmtpSink) -> None:
    smtp.refuse_recipients = True
    notifier = SmtpNotifier(SmtpSettings(host="127.0.0.1", port=smtp.port))
    with pytest.raises(DeliveryFailed) as failure:
        await notifier.send(Message("email", "nobody@example.ru", "s", "b"))
    assert failure.value.permanent


async def test_smtp_server_down_is_a_temporary_failure() -> None:
    notifier = SmtpNotifier(SmtpSettings(host="127.0.0.1", port=free_port(), timeout=2))
    with pytest.raises(DeliveryFailed) as failure:
        await notifier.send(Message("email", "a@example.ru", "s", "b"))
    assert not failure.value.permanent


class Gateway:
    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], dict[str, object]]] = []
        self.status = 200

    async def sms(self, request: Request) -> Response:
        self.requests.append((dict(request.headers), json.loads(await request.body())))
        return PlainTextResponse("queued", status_code=self.status)


@pytest.fixture
def gateway() -> AsyncIterator[tuple[Gateway, str]]:
    state = Gateway()
    port = free_port()
    server = LiveServer(Starlette(routes=[Route("/sms", state.sms, methods=["POST"])]), port)
    server.start()
    yield state, f"http://127.0.0.1:{port}/sms"
    server.stop()


async def test_http_sms_adapter_posts_the_configured_body(gateway: tuple[Gateway, str]) -> None:
    state, url = gateway
    notifier = HttpSmsNotifier(
        SmsGatewaySettings(
            url=url,
            auth_header="Bearer gw-key",
            body_template='{"phone": "{to}", "message": "{text}", "sender": "GOSID"}',
        )
    )
    try:
        await notifier.send(Message("sms", "+79991234567", "", 'Код: 123456 "ok"'))
    finally:
        await notifier.close()
    headers, body = state.requests[0]
    assert headers["authorization"] == "Bearer gw-key"
    assert body == {"phone": "+79991234567", "message": 'Код: 123456 "ok"', "sender": "GOSID"}


@pytest.mark.parametrize(("status", "permanent"), [(500, False), (429, False), (400, True)])
async def test_http_sms_gateway_errors(
    gateway: tuple[Gateway, str], status: int, permanent: bool
) -> None:
    state, url = gateway
    state.status = status
    notifier = HttpSmsNotifier(SmsGatewaySettings(url=url))
    try:
        with pytest.raises(DeliveryFailed) as failure:
            await notifier.send(Message("sms", "+79991234567", "", "x"))
    finally:
        await notifier.close()
    assert failure.value.permanent is permanent


async def test_dev_mailbox_exists_only_in_dev_mode(settings: Settings, migrated: str) -> None:
    for chosen, expected in ((production(settings), 404), (settings, 200)):
        assert chosen.dev_mode is (expected == 200)
        app = create_app(chosen, run_jobs=False)
        port = free_port()
        server = LiveServer(app, port).start()
        try:
            async with httpx.AsyncClient() as http:
                response = await http.get(f"http://127.0.0.1:{port}/dev/mailbox")
        finally:
            server.stop()
        assert response.status_code == expected


async def test_a_backend_without_its_server_fails_each_message_for_good() -> None:
    # Only reachable in dev mode: outside it idp does not start without them.
    for notifier, setting in (
        (HttpSmsNotifier(SmsGatewaySettings()), "IDP_NOTIFY__SMS__URL"),
        (SmtpNotifier(SmtpSettings()), "IDP_NOTIFY__SMTP__HOST"),
    ):
        try:
            with pytest.raises(DeliveryFailed) as failure:
                await notifier.send(Message("sms", "+79991234567", "", "Код: 123456"))
        finally:
            await notifier.close()
        assert failure.value.permanent
        assert str(failure.value).endswith(f"{setting} is not set")
