"""Dev mode's development CA, on SQLite and PostgreSQL: trusted by the process that runs it and
never written to the trust list (a production instance over the same database refuses its
signatures as untrusted), its CRL and OCSP served at ``/_dev-ca``, its signer behind ``POST
/api/v1/me/qes/dev-signature`` and ``idp dev sign``; a signature from either confirms a
standard account on the live server. Without the CA there is neither."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
from cryptography import x509
from sqlalchemy import func, select

from idp.app import create_app
from idp.clock import OffsetClock
from idp.context import Context
from idp.db.models import Account, TrustAnchor
from idp.settings import DEV_CA_PATH, Settings
from idp.signatures.dev.ca import DevCA
from idp.signatures.result import Reason, Verification
from tests.integration.qes.kit import (
    DEV_SIGNATURE,
    GIVEN_NAMES,
    SURNAME,
    challenge,
    cli_env,
    logged_in,
    problem,
    submit,
)
from tests.support.api_kit import serve_variant
from tests.support.cli_kit import run_in_process
from tests.support.factories import make_person, random_snils
from tests.support.live import LiveServer
from tests.support.production import production


async def level_of(ctx: Context, account_id: uuid.UUID) -> tuple[str, str | None]:
    async with ctx.db.read() as session:
        account = await session.get(Account, account_id, populate_existing=True)
        assert account is not None
        return account.level, account.confirmation_method


async def anchors_of(ctx: Context, certificate: bytes) -> list[TrustAnchor]:
    fingerprint = hashlib.sha256(certificate).hexdigest()
    async with ctx.db.read() as session:
        rows = await session.scalars(
            select(TrustAnchor).where(TrustAnchor.fingerprint == fingerprint)
        )
        return list(rows)


async def test_dev_mode_serves_its_cas_crl_and_writes_no_trust_anchor(
    server: LiveServer, ctx: Context, settings: Settings
) -> None:
    ca = DevCA.load_or_create(settings.var_dir, settings.issuer)
    assert await anchors_of(ctx, ca.certificate) == []
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.get(f"{DEV_CA_PATH}/crl/dev.crl")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(response.content)
    assert crl.issuer == x509.load_der_x509_certificate(ca.certificate).subject
    assert ca.crl_url == f"{settings.issuer}{DEV_CA_PATH}/crl/dev.crl"


async def test_the_dev_signer_confirms_a_standard_account(server: LiveServer, ctx: Context) -> None:
    person = await make_person(ctx, level="standard")
    api = await logged_in(server.url, person)
    try:
        got = await challenge(api)
        made = await api.post(DEV_SIGNATURE, {"challenge_id": got["id"]})
        assert made.status_code == 200, made.text
        assert made.headers["cache-control"] == "no-store"
        response = await submit(api, got["id"], made.json()["signature"])
        assert response.status_code == 200, response.text
        # The challenge is used now: the signer will not sign it again.
        problem(await api.post(DEV_SIGNATURE, {"challenge_id": got["id"]}), 409, "challenge-used")
    finally:
        await api.close()
    assert await level_of(ctx, person.account.id) == ("confirmed", "qes")


async def test_the_dev_signer_signs_only_the_accounts_open_challenge(
    server: LiveServer, ctx: Context
) -> None:
    owner = await make_person(ctx, level="standard")
    other = await make_person(ctx, level="standard")
    mine, theirs = await logged_in(server.url, owner), await logged_in(server.url, other)
    try:
        got = await challenge(mine)
        body = {"challenge_id": got["id"]}
        problem(await theirs.post(DEV_SIGNATURE, body), 404, "no-such-challenge")
        unknown = {"challenge_id": str(uuid.uuid4())}
        problem(await mine.post(DEV_SIGNATURE, unknown), 404, "no-such-challenge")
        problem(await mine.post(DEV_SIGNATURE, {"challenge_id": "x"}), 422, "validation-failed")
        await challenge(mine)  # the first one ends
        problem(await mine.post(DEV_SIGNATURE, body), 410, "challenge-expired")
    finally:
        await mine.close()
        await theirs.close()
    assert await level_of(ctx, owner.account.id) == ("standard", None)


async def test_idp_dev_sign_makes_a_signature_the_server_takes(
    server: LiveServer, ctx: Context, settings: Settings, tmp_path: Path
) -> None:
    person = await make_person(ctx, level="standard")
    api = await logged_in(server.url, person)
    try:
        got = await challenge(api)
        saved = tmp_path / "challenge.txt"
        saved.write_text(got["content"] + "\n")  # as an editor saves it
        by_file = await run_in_process(
            cli_env(settings), "dev", "sign", str(person.account.id), "--challenge-file", str(saved)
        )
        assert by_file.code == 0, by_file.err
        by_text = await run_in_process(
            cli_env(settings),
            "dev",
            "sign",
            str(person.account.id),
            "--challenge",
            got["content"],
            "--json",
        )
        out = by_text.json()
        assert out["account"] == str(person.account.id)
        assert person.snils not in by_text.out + by_file.out  # only inside the certificate
        base64.b64decode(by_file.out.strip(), validate=True)
        response = await submit(api, got["id"], by_file.out.strip())
        assert response.status_code == 200, response.text
    finally:
        await api.close()
    assert await level_of(ctx, person.account.id) == ("confirmed", "qes")


async def test_idp_dev_sign_refuses_unknown_or_unverified_accounts(
    ctx: Context, settings: Settings
) -> None:
    simplified = await make_person(ctx)
    env = cli_env(settings)
    for account in (str(uuid.uuid4()), str(simplified.account.id), "not-an-id"):
        result = await run_in_process(env, "dev", "sign", account, "--challenge", "x")
        line = result.refused(2)
        assert simplified.snils not in line
    assert (await run_in_process(env, "dev", "sign", str(simplified.account.id))).code == 2
    missing = await run_in_process(
        env, "dev", "sign", str(simplified.account.id), "--challenge-file", "/nonexistent/c.txt"
    )
    missing.refused(2)


async def test_idp_dev_sign_is_refused_without_the_dev_ca(ctx: Context, settings: Settings) -> None:
    person = await make_person(ctx, level="standard")
    for changes in (
        {"IDP_SIGNATURES__DEV_CA": "false"},
        {"IDP_DEV_MODE": "false"},
        {"IDP_DEV_MODE": "false", "IDP_SIGNATURES__DEV_CA": "true"},
    ):
        result = await run_in_process(
            cli_env(settings, **changes), "dev", "sign", str(person.account.id), "--challenge", "x"
        )
        assert "dev mode only" in result.refused(3)


async def test_without_the_dev_ca_there_is_no_signer_and_no_responder(
    server: LiveServer, ctx: Context, settings: Settings, clock: OffsetClock
) -> None:
    signatures = settings.signatures.model_copy(update={"dev_ca": False})
    plain = serve_variant(settings, clock, signatures=signatures)
    person = await make_person(ctx, level="standard")
    try:
        api = await logged_in(plain.url, person)
        try:
            got = await challenge(api)
            problem(await api.post(DEV_SIGNATURE, {"challenge_id": got["id"]}), 404, "not-found")
            assert (await api.get(f"{DEV_CA_PATH}/crl/dev.crl")).status_code == 404
        finally:
            await api.close()
    finally:
        plain.stop()


async def test_instances_starting_at_once_share_one_ca_and_list_none(
    server: LiveServer, ctx: Context, settings: Settings, clock: OffsetClock, tmp_path: Path
) -> None:
    # A var dir of their own: both make the CA's file at once, and both serve the winner's.
    fresh = tmp_path / "var"
    starts = [asyncio.to_thread(serve_variant, settings, clock, var_dir=fresh) for _ in range(2)]
    first, second = await asyncio.gather(*starts)
    try:
        issuers = set()
        for live in (first, second):
            async with httpx.AsyncClient(base_url=live.url) as http:
                crl = (await http.get(f"{DEV_CA_PATH}/crl/dev.crl")).content
            issuers.add(x509.load_der_x509_crl(crl).issuer)
        ca = DevCA.load_or_create(fresh, settings.issuer)
        assert issuers == {x509.load_der_x509_certificate(ca.certificate).subject}
        async with ctx.db.read() as session:
            dev = await session.scalar(
                select(func.count()).select_from(TrustAnchor).where(TrustAnchor.source == "dev-ca")
            )
        assert not dev
        assert await anchors_of(ctx, ca.certificate) == []
    finally:
        first.stop()
        second.stop()


async def verified_by_an_app(settings: Settings, signature: bytes, content: bytes) -> Verification:
    """What an app built with ``settings`` (its start-up run) makes of the signature."""
    signatures = settings.signatures.model_copy(update={"pool": "thread"})
    app = create_app(settings.model_copy(update={"signatures": signatures}), run_jobs=False)
    async with app.router.lifespan_context(app):
        now = app.state.ctx.clock.now()
        return await app.state.signature_checker.verify(  # type: ignore[no-any-return]
            signature,
            content,
            signed_after=now - timedelta(minutes=5),
            signed_before=now + timedelta(minutes=5),
        )


async def test_a_production_app_over_the_same_database_refuses_the_dev_ca(
    server: LiveServer, ctx: Context, settings: Settings
) -> None:
    # The session's server runs in dev mode over this database, its development CA trusted;
    # an instance outside dev mode over the same database must not trust it.
    ca = DevCA.load_or_create(settings.var_dir, settings.issuer)
    content = b"idp qes confirm\nproduction"
    signature = ca.sign(content, random_snils(), SURNAME, GIVEN_NAMES)
    in_dev_mode = await verified_by_an_app(settings, signature, content)
    assert in_dev_mode.ok, in_dev_mode
    outside = await verified_by_an_app(production(settings), signature, content)
    assert outside.reason == Reason.UNTRUSTED
