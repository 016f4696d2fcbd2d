from __future__ import annotations

from sqlalchemy import text
from starlette.responses import JSONResponse, PlainTextResponse

from idp.http.deps import Ctx
from idp.http.routing import ProtocolRouter
from idp.metrics import exposition

router = ProtocolRouter(include_in_schema=False)  # JSON for probes


@router.get("/healthz")
async def live() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
async def ready(ctx: Ctx) -> JSONResponse:
    """Ready only while the database answers (a restarted database makes this false, then true)."""
    try:
        async with ctx.db.read() as session:
            await session.execute(text("SELECT 1"))
    except Exception:  # any database failure means "not ready", never a 500
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


@router.get("/metrics")
async def metrics() -> PlainTextResponse:
    """This instance's counters (Prometheus text format); fixed names, no personal data."""
    return PlainTextResponse(exposition(), media_type="text/plain; version=0.0.4")
