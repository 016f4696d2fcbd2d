"""The trust list's kind reaches verification: an anchor imported from an EU trusted list
(``etsi-tsl``) issuing a certificate with a SNILS and the FSB sign-tool extensions does not make
it a Russian qualified certificate. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from idp.clock import OffsetClock
from idp.context import Context
from idp.settings import Settings, SignaturesSettings
from idp.signatures.checker import SignatureChecker
from idp.signatures.dev import pki
from idp.signatures.result import Reason
from idp.signatures.trust.store import TrustStore
from tests.support.pki import trust_ca
from tests.support.signature_kit import CONTENT, CrlsInMemory, verify_with


@pytest.fixture
async def ctx(settings: Settings, clock: OffsetClock, migrated: str) -> AsyncIterator[Context]:
    context = Context.build(settings, clock)
    yield context
    await context.close()


async def test_an_eu_list_anchor_does_not_qualify_a_russian_certificate(ctx: Context) -> None:
    eu_root = pki.make_root("Some EU QTSP CA", "p256")
    ru_root = pki.make_root("Some accredited CA", "p256")
    async with ctx.db.transaction() as session:
        for issued, kind in ((eu_root, "etsi-tsl"), (ru_root, "ru-accredited")):
            await trust_ca(
                session,
                issued.certificate,
                name=kind,
                kind=kind,
                source=f"test:{kind}",
                now=ctx.clock.now(),
            )
    store = TrustStore(ctx.db, ctx.clock, recheck=30)
    kinds = {a.name: a.source_kind for a in await store.anchors()}
    assert kinds["etsi-tsl"] == "etsi-tsl"
    assert kinds["ru-accredited"] == "ru-accredited"
    for issuer, qualified in ((eu_root, False), (ru_root, True)):
        url = f"http://127.0.0.1:9/{issuer.parsed.subject.native['common_name']}.crl"
        signer = pki.make_person(
            issuer, "p256", snils="11223344595", surname="Иванова", given_names="Мария", crl_url=url
        )
        verifier = SignatureChecker(
            SignaturesSettings(pool="thread", pool_size=1),
            trust=store,
            revocation=CrlsInMemory({url: pki.make_crl(issuer, [])}),
            clock=ctx.clock,
        )
        result = await verify_with(verifier, pki.sign_cms(CONTENT, signer))
        if qualified:
            assert result.ok, result
        else:
            assert result.reason is Reason.NOT_QUALIFIED, result
