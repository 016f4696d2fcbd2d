"""The job runner as a FastAPI dependency, for routes that run the jobs they just committed."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from idp.jobs.runner import JobRunner


async def get_jobs(request: Request) -> JobRunner:
    runner: JobRunner = request.app.state.jobs
    return runner


Jobs = Annotated[JobRunner, Depends(get_jobs)]
