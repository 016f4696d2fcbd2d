"""A redirect URI the operator removes (``idp clients update``) gets no code from a login
that was already under way when it was removed: the interaction ends as expired."""

from __future__ import annotations

import asyncio

from idp.clients.service import ClientChanges, update_client
from idp.context import Context
from tests.support.browser import Browser
from tests.support.factories import Person, make_rp
from tests.support.flows import auth_params, login_page

OLD, NEW = "https://rp.example/old-cb", "https://rp.example/new-cb"


async def test_a_redirect_uri_removed_during_a_login_gets_no_code(
    ctx: Context, browser: Browser, person: Person
) -> None:
    rp = await make_rp(ctx, redirect_uri=OLD, require_consent=False)
    params, _ = auth_params(rp)
    page = await login_page(browser, params)  # the interaction, on its way to OLD

    async with ctx.db.transaction() as session:
        await update_client(session, ctx, rp.client_id, ClientChanges(redirect_uris=[NEW]))
    await asyncio.sleep(1.5)  # the server's client cache follows within its recheck interval

    response = await browser.submit(page, {"login": person.phone, "password": person.password})
    for _ in range(3):  # whatever pages come, none sends the browser to OLD
        location = response.headers.get("location", "")
        assert not location.startswith(OLD), location
        if response.status_code != 303:
            break
        response = await browser.get(location)
    assert response.status_code == 400, response.text[:300]
    assert "expired" in response.text
