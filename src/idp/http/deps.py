"""FastAPI dependencies shared by the route modules."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from idp.context import Context


def get_context(request: Request) -> Context:
    context: Context = request.app.state.ctx
    return context


async def _context_dependency(request: Request) -> Context:
    # async: FastAPI runs a plain-def dependency in a worker thread, on every request.
    return get_context(request)


Ctx = Annotated[Context, Depends(_context_dependency)]


def client_ip(request: Request) -> str | None:
    ctx: Context = request.app.state.ctx
    if ctx.settings.trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.split(",")[0].strip()[:64]
    return request.client.host if request.client else None
