from __future__ import annotations

from starlette.responses import JSONResponse, PlainTextResponse

from idp.db.migrate import current_revision, head_revision
from idp.http.deps import Ctx
from idp.http.routing import ProtocolRouter
from idp.metrics import exposition

router = ProtocolRouter(include_in_schema=False)  # JSON for probes


@router.get("/healthz")
async def live() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
async def ready(ctx: Ctx) -> JSONResponse:
    """Ready only while the database answers (a restarted database makes this false, then true)
    and its schema is the one this code was written for: an instance started before `idp
    migrate`, or left running after a newer release migrated, takes no traffic."""
    try:
        async with ctx.db.read() as session:
            revision = await current_revision(session)
    except Exception:  # any database failure means "not ready", never a 500
        return JSONResponse({"status": "unavailable"}, status_code=503)
    if revision != head_revision():
        return JSONResponse(
            {"status": "schema-mismatch", "database": revision, "expected": head_revision()},
            status_code=503,
        )
    return JSONResponse({"status": "ok"})


@router.get("/metrics")
async def metrics() -> PlainTextResponse:
    """This instance's counters (Prometheus text format); fixed names, no personal data."""
    return PlainTextResponse(exposition(), media_type="text/plain; version=0.0.4")
