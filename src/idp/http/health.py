from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from idp.db.migrate import current_revision, head_revision
from idp.http.deps import Ctx
from idp.http.routing import ProtocolRouter
from idp.metrics import exposition
from idp.security.tokens import same

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
async def metrics(request: Request, ctx: Ctx) -> Response:
    """This instance's counters (Prometheus text format); fixed names, no personal data. Only
    for a scraper holding ``IDP_METRICS_TOKEN``; without the setting the path does not exist."""
    token = ctx.settings.metrics_token
    if token is None:
        return JSONResponse({"error": "not_found"}, status_code=404)
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not same(presented, token):
        return Response(status_code=401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    return PlainTextResponse(exposition(), media_type="text/plain; version=0.0.4")
