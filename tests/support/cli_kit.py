"""Running the ``idp`` command in tests: in this process (``main`` on a thread, configured
through ``IDP_*`` variables exactly as the console script is) for the many small cases, and
as a real subprocess where the installed script itself is the point. ``snapshot`` reads every
row of every table, so "nothing written" can be checked as "nothing changed"."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from idp.cli import main
from idp.db.base import Base

_ENV_LOCK = threading.Lock()


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def json(self) -> dict[str, Any]:
        assert self.code == 0, (self.code, self.out, self.err)
        lines = self.out.splitlines()
        assert len(lines) == 1, self.out  # one JSON object on one line
        value = json.loads(lines[0])
        assert isinstance(value, dict)
        return value

    def table(self) -> str:
        assert self.code == 0, (self.code, self.out, self.err)
        assert self.err == ""
        return self.out

    def refused(self, code: int = 2) -> str:
        assert self.code == code, (self.code, self.out, self.err)
        assert self.out == ""
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, self.err  # one line, no traceback, no usage text
        assert lines[0].startswith("idp: ")
        return lines[0]


def _call(env: dict[str, str], args: tuple[str, ...]) -> Result:
    out, err = io.StringIO(), io.StringIO()
    with _ENV_LOCK:
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(env)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(list(args))
                except SystemExit as exc:  # argparse's refusals
                    code = int(exc.code or 0)
        finally:
            os.environ.clear()
            os.environ.update(saved)
    return Result(code, out.getvalue(), err.getvalue())


async def run_in_process(env: dict[str, str], *args: str) -> Result:
    return await asyncio.to_thread(_call, env, args)


async def run_script(env: dict[str, str], idp: str, *args: str) -> Result:
    process = await asyncio.create_subprocess_exec(
        idp, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return Result(process.returncode, out.decode(), err.decode())


async def snapshot(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    async with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            rows = (await connection.execute(select(table))).all()
            tables[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return tables
