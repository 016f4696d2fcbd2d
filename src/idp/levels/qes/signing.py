"""The confirmation's run-time parts, built once per process by ``create_app``: the signature
checker over the trust list (``TrustStore``) with its revocation fetcher, and in dev mode the
development CA (``Settings.runs_dev_ca``): trusted by this process only, its CRL and OCSP served
at ``DEV_CA_PATH``, its signer behind ``POST /api/v1/me/qes/dev-signature`` and ``idp dev sign``.

The development CA is never written to the trust list: its key sits in a file and signs anyone,
and a row there would outlive dev mode (the same database served by a production instance
would go on trusting it). It is added to the anchors in memory, by the process that runs it.
"""

from __future__ import annotations

import asyncio
import dataclasses

from starlette.applications import Starlette

from idp.context import Context
from idp.levels.qes.service import Holder
from idp.settings import Settings
from idp.signatures.checker import SignatureChecker
from idp.signatures.dev.ca import DevCA
from idp.signatures.protocol import TrustedCA, TrustSource
from idp.signatures.revocation.fetcher import RevocationFetcher
from idp.signatures.trust.store import TrustStore

DEV_SOURCE_KIND = "dev"


class DevCASigner:
    """Signs as a person's signing plug-in would, with a certificate the development CA makes
    for them on the spot (``idp.levels.qes.service.DevSigner``)."""

    def __init__(self, ca: DevCA) -> None:
        self._ca = ca

    async def sign(self, content: bytes, holder: Holder) -> bytes:
        # A key pair, a certificate and a signature: CPU work, kept off the event loop.
        return await asyncio.to_thread(
            self._ca.sign, content, holder.snils, holder.surname, holder.given_names
        )


def load_dev_ca(settings: Settings) -> DevCA | None:
    """The development CA kept under ``var_dir/dev-ca`` (made on first use), when it runs."""
    if not settings.runs_dev_ca:
        return None
    return DevCA.load_or_create(settings.var_dir, settings.issuer)


def dev_anchor(ca: DevCA) -> TrustedCA:
    """The development CA as a trust anchor, kept in memory only."""
    return dataclasses.replace(ca.anchor, source_kind=DEV_SOURCE_KIND)


class WithDevCA:
    """The trust list's anchors and the development CA's (``TrustSource``)."""

    def __init__(self, listed: TrustSource, dev: TrustedCA) -> None:
        self._listed = listed
        self._dev = dev

    async def anchors(self) -> tuple[TrustedCA, ...]:
        listed = await self._listed.anchors()
        return (*(a for a in listed if a.fingerprint != self._dev.fingerprint), self._dev)


class Signing:
    """The checker (after :meth:`start`), and the development CA with its signer and
    responder when it runs."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self.dev_ca = load_dev_ca(ctx.settings)
        self.dev_signer = DevCASigner(self.dev_ca) if self.dev_ca is not None else None
        self.checker: SignatureChecker | None = None
        self._revocation: RevocationFetcher | None = None

    def responder(self) -> Starlette | None:
        """The development CA's CRL and OCSP responder, to mount at ``DEV_CA_PATH``."""
        return self.dev_ca.responder_app() if self.dev_ca is not None else None

    async def start(self) -> SignatureChecker:
        ctx = self._ctx
        settings = ctx.settings
        # CRLs and OCSP on loopback or private addresses (the development CA's own responder,
        # a test PKI) are fetched in dev mode only: elsewhere a certificate naming such a URL
        # must not make this server reach into its own network.
        self._revocation = RevocationFetcher(
            settings.signatures, allow_private=settings.dev_mode, clock=ctx.clock
        )
        trust: TrustSource = TrustStore(ctx.db, ctx.clock, settings.signatures.trust_recheck)
        if self.dev_ca is not None:  # runs_dev_ca: dev mode only (startup_checks)
            trust = WithDevCA(trust, dev_anchor(self.dev_ca))
        self.checker = SignatureChecker(
            settings.signatures,
            trust=trust,
            revocation=self._revocation,
            clock=ctx.clock,
            dev_mode=settings.dev_mode,
        )
        return self.checker

    async def close(self) -> None:
        if self.checker is not None:
            await self.checker.close()
        if self._revocation is not None:
            await self._revocation.aclose()
