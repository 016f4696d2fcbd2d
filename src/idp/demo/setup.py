"""The demo as the app holds it (``app.state.demo``, dev mode only)."""

from __future__ import annotations

from dataclasses import dataclass

from idp.context import Context
from idp.demo.cookies import SealedCookies
from idp.demo.registration import DEMO_CLIENT_ID, DEMO_SCOPES
from idp.demo.relying_party import RelyingParty


@dataclass(slots=True)
class Demo:
    rp: RelyingParty
    cookies: SealedCookies

    async def close(self) -> None:
        await self.rp.close()


def build_demo(ctx: Context) -> Demo:
    """The demo's OIDC client at this server's issuer, its cookies sealed under a key of its own
    (derived from the key-encryption key for a purpose no other part uses)."""
    settings = ctx.settings
    return Demo(
        rp=RelyingParty(settings.issuer, DEMO_CLIENT_ID, DEMO_SCOPES),
        cookies=SealedCookies(
            ctx.keyring.subkey("demo-rp-cookies"), secure=settings.secure_cookies
        ),
    )
