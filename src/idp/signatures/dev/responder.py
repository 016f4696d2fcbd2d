"""A CRL and OCSP responder over the kit's CAs: dev mode mounts it for its CA, tests serve it on
loopback for theirs.

- ``GET /crl/{name}.crl``: the CA's CRL (DER, ``application/pkix-crl``), made afresh on every
  request with thisUpdate now and nextUpdate ``crl_validity`` later.
- ``POST /ocsp/{name}`` (``application/ocsp-request``) and ``GET /ocsp/{name}/{base64}``:
  RFC 6960 over HTTP (appendix A). The CA itself signs the answer: good, revoked, or unknown
  for a serial it did not issue or a CertID naming another issuer; the request's nonce is echoed.

Every request is counted by ``(kind, name)`` in ``app.state.requests``, so that tests can see
what a cache saved. The work (signing, GOST in pure Python) runs off the event loop.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from asn1crypto import ocsp
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from idp.signatures.dev import pki
from idp.signatures.dev.keys import Issued

CRL_TYPE = "application/pkix-crl"
OCSP_REQUEST_TYPE = "application/ocsp-request"
OCSP_RESPONSE_TYPE = "application/ocsp-response"
MAX_REQUEST = 16 * 1024


@dataclass(frozen=True)
class ResponderCA:
    """One CA the responder speaks for. ``revoked``: serial -> revocation time. ``issued``:
    the serials it knows (others are answered "unknown"); None answers every serial that is
    not revoked "good" (the dev CA does not keep what it issued)."""

    name: str
    ca: Issued
    revoked: Mapping[int, datetime] = field(default_factory=dict)
    issued: Collection[int] | None = None
    crl_validity: timedelta = timedelta(hours=1)
    ocsp_validity: timedelta = timedelta(minutes=10)


def build_responder(
    ca_lookup: Callable[[], Iterable[ResponderCA]],
    *,
    now: Callable[[], datetime] = pki.now,
) -> Starlette:
    """The responder app. ``ca_lookup`` is asked on every request, so the set of CAs and their
    revocations may change while it runs; ``now`` is its clock."""
    requests: Counter[tuple[str, str]] = Counter()

    def find(name: str) -> ResponderCA | None:
        return next((ca for ca in ca_lookup() if ca.name == name), None)

    async def crl(request: Request) -> Response:
        name = request.path_params["name"]
        requests["crl", name] += 1
        ca = find(name)
        if ca is None:
            return Response(status_code=404)
        der = await run_in_threadpool(_crl, ca, now())
        return Response(der, media_type=CRL_TYPE, headers={"Cache-Control": "no-store"})

    async def ocsp_post(request: Request) -> Response:
        name = request.path_params["name"]
        requests["ocsp", name] += 1
        body = await request.body()
        return await _answer(find(name), body, now())

    async def ocsp_get(request: Request) -> Response:
        name = request.path_params["name"]
        requests["ocsp", name] += 1
        try:
            body = base64.b64decode(request.path_params["request"], validate=True)
        except (binascii.Error, ValueError):
            body = b""
        return await _answer(find(name), body, now())

    app = Starlette(
        routes=[
            Route("/crl/{name}.crl", crl, methods=["GET"]),
            Route("/ocsp/{name}", ocsp_post, methods=["POST"]),
            Route("/ocsp/{name}/{request:path}", ocsp_get, methods=["GET"]),
        ]
    )
    app.state.requests = requests
    return app


def _crl(ca: ResponderCA, at: datetime) -> bytes:
    return pki.make_crl(
        ca.ca,
        sorted(ca.revoked.items()),
        this_update=at,
        next_update=at + ca.crl_validity,
        # Increases with time, as RFC 5280 §5.2.3 asks, without state.
        number=int(at.timestamp()),
    )


async def _answer(ca: ResponderCA | None, body: bytes, at: datetime) -> Response:
    if ca is None:
        return Response(status_code=404)
    der = await run_in_threadpool(answer_ocsp, ca, body, at)
    return Response(der, media_type=OCSP_RESPONSE_TYPE, headers={"Cache-Control": "no-store"})


def answer_ocsp(ca: ResponderCA, body: bytes, at: datetime) -> bytes:
    """The DER OCSPResponse to the DER OCSPRequest ``body`` (its first CertID);
    malformedRequest when it does not parse."""
    try:
        if not body or len(body) > MAX_REQUEST:
            raise ValueError("empty or too long")
        request = ocsp.OCSPRequest.load(body)
        tbs = request["tbs_request"]
        cert_id = tbs["request_list"][0]["req_cert"]
        serial = int(cert_id["serial_number"].native)
        ours = _names_issuer(cert_id, ca.ca)
        nonce = _nonce(tbs)
    except (ValueError, TypeError, KeyError, IndexError):
        return _malformed()
    status: Literal["good", "revoked", "unknown"]
    if not ours or (ca.issued is not None and serial not in ca.issued):
        status = "unknown"
    elif serial in ca.revoked:
        status = "revoked"
    else:
        status = "good"
    return pki.ocsp_response(
        ca.ca,
        cert_id,
        status=status,
        revoked_at=ca.revoked.get(serial),
        this_update=at,
        next_update=at + ca.ocsp_validity,
        nonce=nonce,
    )


def _names_issuer(cert_id: ocsp.CertId, ca: Issued) -> bool:
    algorithm = cert_id["hash_algorithm"]["algorithm"].native
    if algorithm not in {"sha1", "sha256", "sha384", "sha512"}:
        return False
    parsed = ca.parsed
    name_hash = hashlib.new(algorithm, parsed.subject.dump()).digest()
    key_hash = hashlib.new(algorithm, pki.public_key_bits(parsed.public_key.dump())).digest()
    return bool(
        cert_id["issuer_name_hash"].native == name_hash
        and cert_id["issuer_key_hash"].native == key_hash
    )


def _nonce(tbs: ocsp.TBSRequest) -> bytes | None:
    for extension in tbs["request_extensions"] or []:
        if extension["extn_id"].native == "nonce":
            value: bytes = extension["extn_value"].parsed.native
            return value
    return None


def _malformed() -> bytes:
    return bytes(ocsp.OCSPResponse({"response_status": "malformed_request"}).dump())
