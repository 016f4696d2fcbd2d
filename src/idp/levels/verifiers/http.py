"""The ``http`` verifier: JSON over HTTPS to a registry gateway (the wire protocol is in
docs/registries.md; ``idp.levels.simulator`` speaks it too).

One ``httpx.AsyncClient`` per instance, made when the verifier is built: the base URL, the
mutual-TLS client certificate, the CAs the gateway's certificate must chain to, and the connect
and total timeouts. A call that meets a network error, a 5xx or a 429 is tried again at once a
few times with doubling pauses (a ``Retry-After`` is honoured up to :data:`RETRY_AFTER_CAP`;
a longer one ends the tries), then :class:`RegistryUnavailable` hands the wait to the job queue.
A refused submit (4xx) is :class:`RequestRejected`, and so is a reference the gateway no
longer knows (404 on ``answer``): asking again cannot help, and a reference not of the form
``[A-Za-z0-9._:-]{1,128}`` (or ``.``/``..``, which a URL path would resolve): it is never
sent nor stored.

Messages name the registry, the status or the error's type; never personal data, request
bodies or the URL's query and credentials.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
import ssl
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from pydantic import ValidationError

from idp.levels.verifiers.protocol import (
    Answer,
    CheckKind,
    DocumentQuery,
    InnQuery,
    PersonQuery,
    Query,
    RegistryUnavailable,
    RequestRejected,
    Verdict,
    VerifierSetup,
    known_fields,
)
from idp.plugins import PluginMisconfigured
from idp.settings import RegistryHttpSettings

log = logging.getLogger("idp.levels.verifiers.http")

MAX_BODY = 64 * 1024  # the most of a response body read; a larger one: RegistryUnavailable
RETRY_AFTER_CAP = 5.0  # the longest Retry-After waited for in place; longer: the job waits
_RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
_SUBMITTED = frozenset({200, 201, 202})
# A reference goes into a URL path and into registry_checks.reference (128 characters):
# nothing a path could resolve (``.``, ``..``, ``/``), nothing that would be cut.
_REFERENCE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
REFERENCE_FORM = "1 to 128 of A-Z a-z 0-9 . _ : -, not . or .."


def _checked_reference(kind: CheckKind, reference: str) -> str:
    """``reference`` if it has the form of a reference; else :class:`RequestRejected` (the
    message never quotes it: a hostile gateway could put anything there)."""
    if _REFERENCE.fullmatch(reference) is None or reference in (".", ".."):
        raise RequestRejected(
            f"the {kind.value} registry's request reference is not in the expected form "
            f"({REFERENCE_FORM})"
        )
    return reference


def _body(query: Query) -> dict[str, Any]:
    return {
        name: value.isoformat() if isinstance(value, date) else value
        for name, value in dataclasses.asdict(query).items()
    }


def _retry_after(response: _Reply) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: not worth parsing for a pause of seconds


class _TooLarge(Exception):
    pass


@dataclasses.dataclass(frozen=True, slots=True)
class _Reply:
    """A response read whole (at most :data:`MAX_BODY` bytes)."""

    status_code: int
    headers: httpx.Headers
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)


class HttpVerifier:
    """Serves the person, document and tax registries through one gateway."""

    def __init__(
        self,
        settings: RegistryHttpSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not settings.base_url:
            raise ValueError("no base URL")
        self._settings = settings
        self._sleep = sleep
        base = urlsplit(settings.base_url)
        # Whatever the URL carries beyond scheme, host and path stays out of every message.
        self._hidden = tuple(s for s in (base.query, base.password, base.username) if s)
        self._http = httpx.AsyncClient(
            base_url=settings.base_url.rstrip("/") + "/",
            verify=_tls_context(settings) if base.scheme == "https" else True,
            timeout=httpx.Timeout(settings.timeout, connect=settings.connect_timeout),
            follow_redirects=False,
            transport=transport,
        )
        self._closed = False

    async def submit_person(self, query: PersonQuery, *, idempotency_key: str) -> str:
        return await self._submit(CheckKind.PERSON, query, idempotency_key)

    async def submit_document(self, query: DocumentQuery, *, idempotency_key: str) -> str:
        return await self._submit(CheckKind.DOCUMENT, query, idempotency_key)

    async def submit_inn(self, query: InnQuery, *, idempotency_key: str) -> str:
        return await self._submit(CheckKind.INN, query, idempotency_key)

    async def answer(self, kind: CheckKind, reference: str) -> Answer:
        response = await self._call(kind, "GET", self._path(kind, reference))
        if response.status_code == 404:
            raise RequestRejected(
                f"the {kind.value} registry does not know request {reference!r} (HTTP 404)"
            )
        if response.status_code != 200:
            raise self._refused(kind, response, "answer")
        data = self._json(kind, response)
        try:
            verdict = Verdict(data["status"])
            named = data.get("fields") or []
            if not isinstance(named, list):
                raise TypeError
        except (KeyError, TypeError, ValueError, AttributeError):
            raise RegistryUnavailable(
                f"the {kind.value} registry's answer is not in the expected form"
            ) from None
        # Only the query's own field names: the rest is stored and shown nowhere.
        fields = known_fields(kind, named) if verdict is Verdict.MISMATCH else ()
        return Answer(verdict, fields)

    async def acknowledge(self, kind: CheckKind, reference: str) -> None:
        # A JSON body, empty: gateways may refuse a POST of any other type (the simulator does).
        response = await self._call(kind, "POST", self._path(kind, reference) + "/ack", json={})
        # 404: already forgotten, as good as acknowledged.
        if response.status_code not in (200, 202, 204, 404):
            raise self._refused(kind, response, "acknowledgement")

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._http.aclose()

    # --- internals -------------------------------------------------------------------------

    async def _submit(self, kind: CheckKind, query: Query, idempotency_key: str) -> str:
        response = await self._call(
            kind,
            "POST",
            f"v1/{kind.value}/requests",
            json=_body(query),
            headers={"Idempotency-Key": idempotency_key},
        )
        if response.status_code not in _SUBMITTED:
            raise self._refused(kind, response, "request")
        data = self._json(kind, response)
        reference = data.get("reference") if isinstance(data, dict) else None
        if not isinstance(reference, str) or not reference:
            raise RegistryUnavailable(f"the {kind.value} registry returned no request reference")
        return _checked_reference(kind, reference)

    @staticmethod
    def _path(kind: CheckKind, reference: str) -> str:
        reference = _checked_reference(kind, reference)
        return f"v1/{kind.value}/requests/{quote(reference, safe='')}"

    async def _call(self, kind: CheckKind, method: str, path: str, **send: Any) -> _Reply:
        """One call with the immediate retries; a response that is not retried is returned."""
        tries = self._settings.retries + 1
        reason = ""
        for attempt in range(tries):
            pause = self._settings.retry_backoff * 2**attempt
            try:
                async with asyncio.timeout(self._settings.timeout):
                    response = await self._send(method, path, **send)
            except (httpx.TransportError, TimeoutError) as exc:
                reason = self._network_reason(exc)
            except _TooLarge:
                raise RegistryUnavailable(
                    f"the {kind.value} registry's answer is larger than {MAX_BODY // 1024} KiB"
                ) from None
            else:
                if response.status_code not in _RETRIED_STATUSES:
                    return response
                reason = f"HTTP {response.status_code}"
                asked = _retry_after(response)
                if asked is not None and asked > RETRY_AFTER_CAP:
                    raise RegistryUnavailable(
                        f"the {kind.value} registry is unavailable ({reason}, retry after "
                        f"{asked:g} s)"
                    )
                pause = max(pause, asked or 0.0)
            if attempt + 1 < tries:
                log.warning(
                    "the %s registry failed (%s); trying again in %.2f s", kind.value, reason, pause
                )
                await self._sleep(pause)
        raise RegistryUnavailable(
            f"the {kind.value} registry is unavailable ({reason}; {tries} tries)"
        )

    async def _send(self, method: str, path: str, **send: Any) -> _Reply:
        """One request; the body read up to :data:`MAX_BODY` bytes (decoded), no further."""
        request = self._http.build_request(method, path, **send)
        response = await self._http.send(request, stream=True)
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > MAX_BODY:
                raise _TooLarge
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_BODY:
                    raise _TooLarge
        finally:
            await response.aclose()
        return _Reply(response.status_code, response.headers, bytes(body))

    def _network_reason(self, exc: Exception) -> str:
        if isinstance(exc, TimeoutError | httpx.TimeoutException):
            return f"no answer within {self._settings.timeout:g} s"
        detail = str(exc).splitlines()[0] if str(exc) else ""
        for hidden in self._hidden:
            detail = detail.replace(hidden, "…")
        detail = detail[:200]
        return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__

    def _json(self, kind: CheckKind, response: _Reply) -> Any:
        try:
            return response.json()
        except ValueError:
            raise RegistryUnavailable(
                f"the {kind.value} registry answered HTTP {response.status_code} without JSON"
            ) from None

    @staticmethod
    def _refused(kind: CheckKind, response: _Reply, what: str) -> Exception:
        status = response.status_code
        if 400 <= status < 500:
            fields = _problem_fields(response)
            detail = f"; fields: {', '.join(fields)}" if fields else ""
            return RequestRejected(
                f"the {kind.value} registry refused the {what}: HTTP {status}{detail}"
            )
        return RegistryUnavailable(f"the {kind.value} registry answered HTTP {status}")


def _problem_fields(response: _Reply) -> list[str]:
    """The field names of a problem+json's ``errors`` (names only: messages may quote values)."""
    try:
        errors = response.json().get("errors") or []
        return [str(e["field"])[:64] for e in errors if isinstance(e, dict) and "field" in e][:10]
    except (ValueError, AttributeError, TypeError):
        return []


def _tls_context(settings: RegistryHttpSettings) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=settings.ca_file)
    if settings.client_cert:
        context.load_cert_chain(settings.client_cert, settings.client_key)
    return context


def _check_files(settings: RegistryHttpSettings) -> None:
    if settings.client_key and not settings.client_cert:
        raise ValueError("client_key is set without client_cert")
    for name in ("client_cert", "client_key", "ca_file"):
        path = getattr(settings, name)
        if path and not Path(path).is_file():
            raise ValueError(f"{name}: no such file {path}")


def build(setup: VerifierSetup) -> HttpVerifier:
    try:
        settings = RegistryHttpSettings.model_validate(dict(setup.options))
    except ValidationError as exc:
        reason = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise PluginMisconfigured("verifier", setup.name, reason) from exc
    if not settings.base_url:
        raise PluginMisconfigured(
            "verifier", setup.name, "IDP_REGISTRIES__HTTP__BASE_URL is not set"
        )
    url = urlsplit(settings.base_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise PluginMisconfigured(
            "verifier", setup.name, "IDP_REGISTRIES__HTTP__BASE_URL is not an http(s) URL"
        )
    if url.scheme == "http" and (settings.client_cert or settings.client_key):
        # httpx sends no client certificate over plain http: the setting would be ignored.
        raise PluginMisconfigured(
            "verifier",
            setup.name,
            "IDP_REGISTRIES__HTTP__CLIENT_CERT / …__CLIENT_KEY need an https:// base URL "
            "(over http:// no client certificate is sent)",
        )
    try:
        _check_files(settings)
        return HttpVerifier(settings)
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise PluginMisconfigured("verifier", setup.name, f"TLS setup failed: {exc}") from exc
