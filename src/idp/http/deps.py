"""FastAPI dependencies shared by the route modules."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from idp.context import Context
from idp.http.client_address import client_address


def get_context(request: Request) -> Context:
    context: Context = request.app.state.ctx
    return context


async def _context_dependency(request: Request) -> Context:
    # async: FastAPI runs a plain-def dependency in a worker thread, on every request.
    return get_context(request)


Ctx = Annotated[Context, Depends(_context_dependency)]


def client_ip(request: Request) -> str | None:
    """The client's address (``idp.http.client_address``: trusted proxies counted from the
    right of X-Forwarded-For)."""
    ctx: Context = request.app.state.ctx
    return client_address(request, ctx.settings.trusted_proxies)
