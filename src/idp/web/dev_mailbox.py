"""/dev/mailbox: what the development sink received. Exists only in dev mode."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy import select
from starlette.responses import Response

from idp.db.models import DevMessage
from idp.errors import NotFound
from idp.http.deps import Ctx
from idp.http.routing import PageRouter
from idp.web.i18n import request_locale
from idp.web.render import page

router = PageRouter()


@router.get("/dev/mailbox")
async def mailbox(request: Request, ctx: Ctx, to: str | None = None) -> Response:
    if not ctx.settings.dev_mode:
        raise NotFound()
    stmt = select(DevMessage).order_by(DevMessage.id.desc()).limit(100)
    if to:
        stmt = stmt.where(DevMessage.recipient == to)
    async with ctx.db.read() as session:
        messages = (await session.scalars(stmt)).all()
    locale = request_locale(request)
    return page("dev_mailbox.html", locale, messages=messages)
