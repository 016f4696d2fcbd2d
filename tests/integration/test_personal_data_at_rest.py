"""A person's whole journey leaves no personal data or secret readable in the database or logs.

Register (phone code, e-mail link), log in to a relying party with a login hint, consent, redeem
the code, read userinfo, refresh, reset the password by SMS code, log in again; then dump every
table as the database returns it and every log line written meanwhile, and look for the phone,
the e-mail, the names, the SNILS, the codes, the passwords and the tokens.

The dev sink (``dev_messages``) is left out on purpose: it stands in for the SMS gateway and the
mail server, which do receive the recipient and the text, and it exists only in development.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import httpx
import pytest
from sqlalchemy import text

import idp.db.models  # noqa: F401  (registers every table)
from idp.context import Context
from idp.db.base import Base
from tests.support.api_kit import (
    code_in,
    last_message_id,
    link_token_in,
    next_message,
    random_email,
    register,
)
from tests.support.browser import Browser
from tests.support.factories import RP, Person, make_person, random_phone
from tests.support.flows import log_in, redeem
from tests.support.live import LiveServer

OUTSIDE_EDGE = {"dev_messages"}  # the stand-in for the SMS gateway and the mailbox
PASSWORD = "Correct-Horse-Battery-7"
NEW_PASSWORD = "Another-Staple-Moon-42"


def _random_name(stem: str) -> str:
    return stem + "".join(secrets.choice("абвгдежзиклмнопрстуфхцчшэюя") for _ in range(6))


async def _dump(ctx: Context) -> str:
    parts: list[str] = []
    async with ctx.db.read() as session:
        for table in Base.metadata.sorted_tables:
            if table.name in OUTSIDE_EDGE:
                continue
            rows = await session.execute(text(f"SELECT * FROM {table.name}"))  # noqa: S608
            for row in rows:
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        value = bytes(value).decode("latin-1")
                    parts.append(f"{table.name}: {value}")
    return "\n".join(parts)


def _variants(phone: str, email: str, snils: str) -> dict[str, str]:
    digits = phone.lstrip("+")
    return {
        "phone": phone,
        "phone digits": digits,
        "phone national": "8" + digits[1:],
        "e-mail": email,
        "e-mail local part": email.split("@", 1)[0],
        "snils": snils,
        "snils formatted": f"{snils[:3]}-{snils[3:6]}-{snils[6:9]} {snils[9:]}",
    }


async def test_a_whole_journey_leaves_nothing_readable(
    ctx: Context, server: LiveServer, rp: RP, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    phone, email = random_phone(), random_email()
    last, first = _random_name("Журавлёва"), _random_name("Снежана")
    secrets_seen: dict[str, str] = {"password": PASSWORD, "new password": NEW_PASSWORD}

    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        mark = await last_message_id(ctx)
        registered = await register(
            http, ctx, phone=phone, email=email, password=PASSWORD, names=(last, first)
        )
        for message in (await next_message(ctx, phone, mark), await next_message(ctx, email, mark)):
            secret = code_in(message) if message.channel == "sms" else link_token_in(message)
            secrets_seen[f"{message.channel} secret"] = secret

        # A second person with a SNILS (the factory seals it as registries will).
        other: Person = await make_person(ctx)

        person = Person(
            account=other.account, phone=phone, email=email, snils=other.snils, password=PASSWORD
        )
        browser = Browser(server.url)
        try:
            callback, verifier, _params = await log_in(
                browser, rp, person, scope="openid profile email phone", login_hint=phone
            )
        finally:
            await browser.close()
        secrets_seen["authorization code"] = callback["code"]
        tokens = (await redeem(http, rp, callback["code"], verifier)).json()
        for name in ("access_token", "id_token", "refresh_token"):
            if name in tokens:
                secrets_seen[name] = tokens[name]
        userinfo = await http.get(
            "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert userinfo.status_code == 200, userinfo.text
        assert userinfo.json()["sub"] == registered.sub

        mark = await last_message_id(ctx)
        reset = (await http.post("/api/v1/password-resets", json={"login": phone})).json()
        code = code_in(await next_message(ctx, phone, mark))
        secrets_seen["reset code"] = code
        secrets_seen["reset token"] = reset["token"]
        done = await http.post(
            f"/api/v1/password-resets/{reset['id']}/confirm",
            json={"code": code, "new_password": NEW_PASSWORD, "new_password_repeat": NEW_PASSWORD},
            headers={"X-Reset-Token": reset["token"]},
        )
        assert done.status_code < 300, done.text

    looked_for: dict[str, Any] = {
        **_variants(phone, email, other.snils),
        "last name": last,
        "first name": first,
        "factory person's phone": other.phone,
        "factory person's e-mail": other.email,
        **secrets_seen,
    }
    dump = await _dump(ctx)
    # The test's own HTTP client logs the URLs it asks for (the RP put the login hint there).
    logs = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    found = {
        name: where
        for name, value in looked_for.items()
        for where, haystack in (("database", dump), ("logs", logs))
        if value and value in haystack
    }
    assert found == {}, _context(found, looked_for, dump)


def _context(found: dict[str, str], looked_for: dict[str, Any], dump: str) -> str:
    lines = []
    for name, where in found.items():
        value = looked_for[name]
        hits = [line[:160] for line in dump.splitlines() if value in line][:3]
        lines.append(f"{name} in {where}: {hits}")
    return "\n".join(lines)
