"""The scheduled refresh of ``settings.signatures.trust_sources``: one durable job.

The refresh is a ``trust_refresh`` job with a fixed id in the job queue: the queue's lease makes
exactly one instance run it however many ``idp serve`` and ``idp worker`` processes share the
database, and each run ends with ``Outcome.wait(trust_refresh_every)``, which makes the same
job due again then. Every instance makes sure, at start and then hourly, that the job exists
(an insert under the fixed id: the primary key decides between instances starting together)
and re-arms it if an operator's clean-up or a deadline settled it, or if it waits longer than
the configured interval (``trust_refresh_every`` was shortened since it was scheduled).

A source that cannot be read or imported keeps the anchors it had (nothing is withdrawn for
it), is logged and is audited as ``trust.refresh_failed``; the other sources are refreshed, and
the next run comes after ``RETRY_FAILED_AFTER`` (15 minutes) instead of the interval if that
is shorter.
"""

from __future__ import annotations

import logging
import uuid

from idp.audit.log import record
from idp.context import Context
from idp.jobs.queue import ClaimedJob, Outcome
from idp.jobs.registry import KindPolicy, Registry
from idp.jobs.worker import PollingWorker
from idp.signatures.trust import repository
from idp.signatures.trust.fetch import fetch_list
from idp.signatures.trust.service import Fetch, import_parsed, read_source, source_name

log = logging.getLogger("idp.signatures.trust")

KIND = "trust_refresh"
JOB_ID = uuid.uuid5(uuid.NAMESPACE_URL, "urn:idp:job:trust_refresh")
FOREVER = 100 * 365 * 86400.0  # the job's deadline: it re-arms itself, it never ends
ENSURE_EVERY = 3600.0
LEASE = 900.0  # a refresh downloads and imports tens of MB at most
RETRY_FAILED_AFTER = 900.0  # seconds before a run in which a source failed runs again


class RefreshHandler:
    def __init__(self, ctx: Context, fetch: Fetch = fetch_list) -> None:
        self._ctx = ctx
        self._fetch = fetch

    async def run(self, job: ClaimedJob) -> Outcome:
        settings = self._ctx.settings.signatures
        sources = settings.trust_sources
        if not sources:
            return Outcome.done("no sources")
        failed = [source for source in sources if not await self.refresh(source)]
        if failed:
            # A failed source is tried again sooner than the interval (they all are: one job).
            note = f"{len(failed)} of {len(sources)} sources failed"
            return Outcome.wait(min(settings.trust_refresh_every, RETRY_FAILED_AFTER), note)
        return Outcome.wait(settings.trust_refresh_every)

    async def refresh(self, source: str) -> bool:
        """Import one source in its own transaction; False (logged, audited) if it failed."""
        name = source_name(source)
        try:
            parsed = await read_source(source, fetch=self._fetch)
            async with self._ctx.db.transaction() as session:
                report = await import_parsed(session, parsed, name, now=self._ctx.clock.now())
        except Exception as exc:  # any failure keeps the list this source gave before
            reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            log.warning("trust list refresh failed source=%s reason=%s", name, reason)
            async with self._ctx.db.transaction() as session:
                record(
                    session,
                    "trust.refresh_failed",
                    at=self._ctx.clock.now(),
                    outcome="failure",
                    source=name,
                    error=reason,
                )
            return False
        log.info(
            "trust list refreshed source=%s added=%d updated=%d withdrawn=%d refused=%d",
            name,
            report.added,
            report.updated,
            report.withdrawn,
            len(report.refused),
        )
        return True

    async def close(self) -> None:
        return None


def register(registry: Registry, ctx: Context, fetch: Fetch = fetch_list) -> None:
    every = ctx.settings.signatures.trust_refresh_every
    registry.register(
        KIND,
        RefreshHandler(ctx, fetch),
        KindPolicy(
            lease=LEASE,
            backoff_base=60.0,
            backoff_max=float(every),
            batch_size=1,
            concurrency=1,
            poll_interval=min(60.0, float(every)),
        ),
    )


async def ensure_scheduled(ctx: Context) -> bool:
    """Make the refresh job exist (when there are sources); whether this call created or
    re-armed it."""
    if not ctx.settings.signatures.trust_sources:
        return False
    every = float(ctx.settings.signatures.trust_refresh_every)
    async with ctx.db.transaction() as session:
        return await repository.ensure_job(session, JOB_ID, KIND, KIND, FOREVER, every)


class TrustSchedule:
    """Keeps the refresh job in the queue (``Background`` starts it on every instance)."""

    def __init__(self, ctx: Context) -> None:
        self._worker = PollingWorker(
            "idp-trust-schedule", lambda: ensure_scheduled(ctx), ENSURE_EVERY
        )

    def start(self) -> None:
        self._worker.start()

    async def stop(self) -> None:
        await self._worker.stop()
