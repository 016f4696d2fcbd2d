"""The confirmation's run-time parts, built once per process by ``create_app``: the signature
checker over the trust list (``TrustStore``) with its revocation fetcher, and in dev mode the
development CA (``Settings.runs_dev_ca``): trusted at start-up, its CRL and OCSP served at
``DEV_CA_PATH``, its signer behind ``POST /api/v1/me/qes/dev-signature`` and ``idp dev sign``.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette

from idp.context import Context
from idp.levels.qes.service import Holder
from idp.settings import Settings
from idp.signatures.checker import SignatureChecker
from idp.signatures.dev.ca import DevCA
from idp.signatures.revocation.fetcher import RevocationFetcher
from idp.signatures.trust.service import add_anchor
from idp.signatures.trust.store import TrustStore

logger = logging.getLogger("idp.signatures")

DEV_CA_NAME = "idp development CA"
DEV_SOURCE_KIND = "dev"
DEV_SOURCE = "dev-ca"


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


async def trust_dev_ca(ctx: Context, ca: DevCA) -> bool:
    """Put the development CA on the trust list unless it is there; whether it was added.
    Instances starting at once may both try: the insert is by fingerprint, the loser's a
    no-op."""
    async with ctx.db.transaction() as session:
        return await add_anchor(
            session,
            ca.certificate,
            name=DEV_CA_NAME,
            source_kind=DEV_SOURCE_KIND,
            source=DEV_SOURCE,
            now=ctx.clock.now(),
        )


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
        self.checker = SignatureChecker(
            settings.signatures,
            trust=TrustStore(ctx.db, ctx.clock, settings.signatures.trust_recheck),
            revocation=self._revocation,
            clock=ctx.clock,
            dev_mode=settings.dev_mode,
        )
        if self.dev_ca is not None:
            try:
                if await trust_dev_ca(ctx, self.dev_ca):
                    logger.info("the development CA is trusted (dev mode)")
            except SQLAlchemyError as exc:  # a schema not migrated yet: /readyz says so
                logger.warning("the development CA is not trusted: %s", type(exc).__name__)
        return self.checker

    async def close(self) -> None:
        if self.checker is not None:
            await self.checker.close()
        if self._revocation is not None:
            await self._revocation.aclose()
