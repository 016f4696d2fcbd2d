"""The ``backchannel_logout`` job (Back-Channel Logout 1.0 §2.5-2.8): its handler, registered
with the job queue at start, builds the logout token and hands it to the ``Deliverer``.

Delivery is at least once. So that an RP can recognise a repeat, every try re-sends the same
token claims (``jti``, ``iat``) while that token is still fresh; only a retry after it went
stale gets a new ``jti``, derived from the first, with a new ``iat``.
"""

from __future__ import annotations

from idp.context import Context
from idp.jobs.errors import JobPayloadError
from idp.jobs.queue import ClaimedJob
from idp.jobs.queue import Outcome as JobOutcome
from idp.jobs.registry import KindPolicy, Registry
from idp.oidc.logout.attempt import DELIVERED, REJECTED, Job
from idp.sessions.service import BACKCHANNEL_LOGOUT


def token_claims_at(jti: str, iat: int, now: int, ttl: int) -> tuple[str, int]:
    """The (jti, iat) to send at ``now``: the first ones during the first half of the token's
    life (so the RP still has time to check it), then a new pair per half-life."""
    window = max(1, ttl // 2)
    epoch = max(0, now - iat) // window
    if epoch == 0:
        return jti, iat
    return f"{jti}.{epoch}", iat + epoch * window


class BackchannelHandler:
    def __init__(self, ctx: Context) -> None:
        # Imported here: the deliverer pulls in the HTTP client, which the queue does not need.
        from idp.oidc.logout.delivery import Deliverer

        self._ctx = ctx
        self._deliverer = Deliverer(ctx)

    async def run(self, job: ClaimedJob) -> JobOutcome:
        # A field missing or of the wrong kind fails this job alone (JobPayloadError).
        first_jti, first_iat = str(job.value("jti")), _integer(job.value("iat"))
        client_id, uri, sub, sid, alg = (
            str(job.value(key)) for key in ("client_id", "uri", "sub", "sid", "alg")
        )
        now = int(self._ctx.clock.now().timestamp())
        jti, iat = token_claims_at(first_jti, first_iat, now, self._ctx.settings.logout.token_ttl)
        outcome = await self._deliverer.deliver(
            Job(job.id, client_id, uri, sub, sid, alg, jti, iat)
        )
        if outcome.status == DELIVERED:
            return JobOutcome.done(DELIVERED)
        if outcome.status == REJECTED:
            return JobOutcome.failed(outcome.error or "rejected", REJECTED)
        return JobOutcome.retry(outcome.error or "not delivered")

    async def close(self) -> None:
        await self._deliverer.close()


def _integer(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise JobPayloadError(f"the payload's iat is not an integer: {type(value).__name__}")
    return value


def register(registry: Registry, ctx: Context) -> None:
    settings = ctx.settings.logout
    registry.register(
        BACKCHANNEL_LOGOUT,
        BackchannelHandler(ctx),
        KindPolicy(
            lease=settings.lease,
            backoff_base=settings.backoff_base,
            backoff_max=settings.backoff_max,
            batch_size=settings.batch_size,
            concurrency=settings.max_concurrency,
            poll_interval=settings.poll_interval,
            inline_wait=settings.inline_wait,
            audit_event="logout.backchannel",
            ref_fields=("client_id",),
        ),
    )
