"""SMS through an HTTP gateway: a configurable URL and JSON body template (httpx)."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import httpx

from idp.notify.protocol import DeliveryFailed, Message, NotifierSetup, safe_reason
from idp.settings import SmsGatewaySettings


def _json_string(value: str) -> str:
    return json.dumps(value)[1:-1]  # escaped for use inside a JSON string literal


class HttpSmsNotifier:
    def __init__(self, settings: SmsGatewaySettings) -> None:
        self._settings = settings
        self._http = httpx.AsyncClient(timeout=settings.timeout, follow_redirects=False)
        # Gateways often take their key in the query string; an error quoting the URL must not.
        url = urlsplit(settings.url or "")
        self._secrets = (settings.auth_header, url.query, url.password)

    async def send(self, message: Message) -> None:
        if not self._settings.url:  # dev mode only: outside it idp does not start without one
            raise DeliveryFailed("no SMS gateway: IDP_NOTIFY__SMS__URL is not set", permanent=True)
        body = self._settings.body_template.replace("{to}", _json_string(message.to)).replace(
            "{text}", _json_string(message.body)
        )
        headers = {"Content-Type": "application/json"}
        if self._settings.auth_header:
            headers["Authorization"] = self._settings.auth_header
        try:
            response = await self._http.post(self._settings.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            reason = safe_reason(f"{type(exc).__name__}: {exc}", self._hide(message))
            raise DeliveryFailed(reason) from exc
        if 400 <= response.status_code < 500 and response.status_code != 429:
            raise DeliveryFailed(f"gateway refused: HTTP {response.status_code}", permanent=True)
        if response.status_code >= 300:
            raise DeliveryFailed(f"gateway answered HTTP {response.status_code}")

    def _hide(self, message: Message) -> tuple[str | None, ...]:
        return (message.to, _json_string(message.to), message.body, *self._secrets)

    async def close(self) -> None:
        await self._http.aclose()


def build(setup: NotifierSetup) -> HttpSmsNotifier:
    setup.require_channel("sms")
    return HttpSmsNotifier(SmsGatewaySettings.model_validate(setup.options))
