"""Benchmark: the IdP side of a back-channel fan-out over TLS, in one process.

`Deliverer.deliver_all` posts N logout tokens to N local https RPs (bench/fanout_rps.py, a
throwaway CA) that answer at once: first on new connections (N TLS handshakes), then again on
the kept-alive ones. It prints wall time and this process's CPU time; CPU time is what the
IdP spends and, unlike wall time, hardly moves when other processes load the machine.

    .venv/bin/python bench/egress_fanout.py --n 100 --rounds 3
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.support.tls_ca when run as bench/egress_fanout.py

from bench.fanout import free_port_block  # noqa: E402
from tests.support.tls_ca import LocalCA  # noqa: E402

from idp.context import Context  # noqa: E402
from idp.db.migrate import upgrade  # noqa: E402
from idp.oidc.logout.attempt import Job  # noqa: E402
from idp.oidc.logout.delivery import Deliverer  # noqa: E402
from idp.settings import LogoutSettings, Settings  # noqa: E402


async def run(n: int, rounds: int, first_port: int, var: Path, ca: LocalCA) -> None:
    url = f"sqlite+aiosqlite:///{var}/idp.db"
    await upgrade(url)
    logout = LogoutSettings(block_private_addresses=False, ca_file=str(ca.ca_file))
    # Dev mode: the generated key beside the SQLite file is refused outside it.
    ctx = Context.build(Settings(database_url=url, var_dir=var, logout=logout, dev_mode=True))
    await ctx.keys.ensure_keys()

    def jobs() -> list[Job]:
        now = int(time.time())
        return [
            Job(uuid.uuid4(), "rp", f"https://127.0.0.1:{first_port + i}/bc", "s", "sid",
                "ES256", uuid.uuid4().hex, now)
            for i in range(n)
        ]  # fmt: skip

    print("| round | connections | wall (ms) | CPU of this process (ms) |")
    print("|---|---|---|---|")
    try:
        for number in range(1, rounds + 1):
            deliverer = Deliverer(ctx)
            await deliverer.deliver_all(jobs()[:1])  # keys loaded, client built
            for label in ("new (TLS handshakes)", "kept alive"):
                wall, cpu = time.perf_counter(), time.process_time()
                outcomes = await deliverer.deliver_all(jobs())
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                assert {o.status for o in outcomes} == {"delivered"}, outcomes[0]
                print(f"| {number} | {label} | {wall * 1000:.0f} | {cpu * 1000:.0f} |")
            await deliverer.close()
    finally:
        await ctx.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    var = Path(tempfile.mkdtemp(prefix="idp-egress-bench-"))
    ca = LocalCA.create(var / "ca")
    chain, key = ca.issue("127.0.0.1")
    first_port = free_port_block(args.n)
    rps = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "fanout_rps.py"), str(first_port), str(args.n),
         "0", str(chain), str(key)],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert rps.stdout is not None
        assert rps.stdout.readline().startswith("READY")
        uvloop.run(run(args.n, args.rounds, first_port, var, ca))
    finally:
        rps.terminate()
        rps.wait(timeout=10)


if __name__ == "__main__":
    main()
