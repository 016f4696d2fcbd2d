"""The failed-try log line (idp.jobs.runner.log_failed_try) stays one parseable line whatever
its ref and reason hold (end to end through a real gateway: test_log_hygiene.py)."""

from __future__ import annotations

import logging
import uuid

import pytest

from idp.jobs.queue import ClaimedJob, Outcome
from idp.jobs.registry import KindPolicy, Registration
from idp.jobs.runner import log_failed_try

JOB = uuid.UUID("5b0e6a52-8f0b-4c57-9d41-0a6f2b1c3d4e")


class _Nothing:
    async def run(self, job: ClaimedJob) -> Outcome:
        raise AssertionError

    async def close(self) -> None:
        return None


def _line(
    caplog: pytest.LogCaptureFixture, ref: str | None, outcome: Outcome, *fields: str
) -> tuple[str, dict[str, object]]:
    policy = KindPolicy(
        lease=60,
        backoff_base=1,
        backoff_max=2,
        batch_size=1,
        concurrency=1,
        poll_interval=1,
        ref_fields=fields or ("ref",),
    )
    job = ClaimedJob(JOB, "notification", ref, {}, 3, "claim")
    with caplog.at_level(logging.WARNING, logger="idp.jobs"):
        log_failed_try(Registration("notification", _Nothing(), policy), job, outcome)
    [record] = caplog.records
    return record.getMessage(), record.__dict__["job_try"]


def test_the_ref_is_split_into_the_kinds_fields(caplog: pytest.LogCaptureFixture) -> None:
    line, extra = _line(
        caplog, "sms:code", Outcome.retry("gateway answered HTTP 500"), "channel", "template"
    )
    assert line == (
        f"job try failed job={JOB} kind=notification channel=sms template=code try=3 "
        'outcome=retry reason="gateway answered HTTP 500"'
    )
    assert extra == {
        "job": str(JOB),
        "kind": "notification",
        "channel": "sms",
        "template": "code",
        "try": 3,
        "outcome": "retry",
        "reason": "gateway answered HTTP 500",
    }


def test_values_that_could_break_the_line_are_quoted(caplog: pytest.LogCaptureFixture) -> None:
    line, _ = _line(caplog, "rp one\nkind=x", Outcome.failed('bad "reply"\r\nnext'), "client_id")
    assert "\n" not in line
    assert "\r" not in line
    assert line == (
        f'job try failed job={JOB} kind=notification client_id="rp one\\nkind=x" try=3 '
        'outcome=failed reason="bad \\"reply\\"\\r\\nnext"'
    )
