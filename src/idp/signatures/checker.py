"""Verifying a qualified electronic signature over a challenge: :class:`SignatureChecker`.

The event loop only awaits: the CPU work runs in the pool in two steps (``idp.signatures.pool``:
decode, CMS and candidate paths; then the path with its revocation information and the
profiles), and between them the checker fetches the CRLs and OCSP responses the path needs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime

from idp.clock import Clock
from idp.settings import SignaturesSettings
from idp.signatures.paths import RevocationNeed
from idp.signatures.pool import Options, Prepared, Request, conclude, make_pool, prepare
from idp.signatures.protocol import RevocationSource, TrustSource
from idp.signatures.result import Reason, RevocationUnavailable, Verification

logger = logging.getLogger("idp.signatures")


class SignatureChecker:
    """Verifies detached CMS signatures against the trust list. Build one per process at
    start-up and :meth:`close` it at shutdown (it owns the pool)."""

    def __init__(
        self,
        settings: SignaturesSettings,
        *,
        trust: TrustSource,
        revocation: RevocationSource,
        clock: Clock,
        dev_mode: bool = False,
    ) -> None:
        self._settings = settings
        self._trust = trust
        self._revocation = revocation
        self._clock = clock
        self._dev_mode = dev_mode
        self._options = Options(
            algorithms=tuple(settings.algorithms),
            profiles=tuple(settings.profiles),
            max_bytes=settings.max_signature_bytes,
            require_revocation=settings.revocation_unavailable == "refuse",
        )
        self._pool = make_pool(settings)

    async def verify(
        self,
        signature: bytes | str,
        content: bytes,
        *,
        certificates: Sequence[bytes] = (),
        signed_after: datetime,
        signed_before: datetime,
    ) -> Verification:
        """Whether ``signature`` (base64, PEM or DER detached CMS) signs ``content`` with a
        qualified certificate trusted now, and who it names. Never raises on bad input: a
        refusal is a Verification with its Reason."""
        if not isinstance(signature, (bytes, str)) or not isinstance(content, bytes):
            return Verification.refused(Reason.MALFORMED, "the signature is not text or bytes")
        try:
            given = tuple(bytes(c) for c in certificates)
        except TypeError:
            return Verification.refused(Reason.MALFORMED, "a certificate that is not bytes")
        if len(signature) > self._options.max_bytes * 2 or sum(map(len, given)) > (
            self._options.max_bytes
        ):
            return Verification.refused(Reason.MALFORMED, "too big")
        request = Request(
            signature=signature,
            content=content,
            certificates=given,
            signed_after=signed_after,
            signed_before=signed_before,
            anchors=tuple(await self._trust.anchors()),
            now=self._clock.now(),
            options=self._options,
        )
        loop = asyncio.get_running_loop()
        first = await loop.run_in_executor(self._pool, prepare, request)
        if isinstance(first, Verification):
            return first
        crls, ocsps = await self._fetch(first)
        # The path is judged at the time the answers came, not when the verification began: a
        # responder signs a fresh answer (thisUpdate: now), which must not lie in the future
        # of the moment it is checked at, however long the first step waited for the pool.
        now = self._clock.now()
        return await loop.run_in_executor(self._pool, conclude, first, crls, ocsps, now)

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._pool.shutdown)

    async def _fetch(self, prepared: Prepared) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
        found = await asyncio.gather(*(self._status(need) for need in prepared.needs))
        crls = tuple(dict.fromkeys(body for kind, body in found if kind == "crl" and body))
        ocsps = tuple(dict.fromkeys(body for kind, body in found if kind == "ocsp" and body))
        return crls, ocsps

    async def _status(self, need: RevocationNeed) -> tuple[str, bytes]:
        """One certificate's revocation information: OCSP when it names a responder, else (or
        when that fails) its CRL. Nothing found is not an error here: the path's validation
        then says ``revocation_unavailable``."""
        for url in need.ocsp_urls:
            try:
                return "ocsp", await self._revocation.ocsp(url, need.certificate, need.issuer)
            except RevocationUnavailable as failure:
                logger.info("OCSP unavailable: %s", failure)
            except Exception as failure:  # a source's own bug must not end the request
                logger.warning("OCSP source failed: %s", type(failure).__name__)
        for url in need.crl_urls:
            try:
                return "crl", await self._revocation.crl(url)
            except RevocationUnavailable as failure:
                logger.info("CRL unavailable: %s", failure)
            except Exception as failure:
                logger.warning("CRL source failed: %s", type(failure).__name__)
        return "none", b""
