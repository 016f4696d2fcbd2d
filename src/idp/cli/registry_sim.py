"""``idp registry-sim``: the registry simulator (idp.levels.simulator) as a server of its own,
for a development machine or a test bench. Never a production registry: it answers what its
seeds and settings tell it."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from idp.cli.kit import EXIT_FAILURE, Parser, int_between
from idp.errors import BadInput

DEFAULT_PORT = 8010


def number_between(low: float, high: float) -> Callable[[str], float]:
    def number(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not math.isfinite(value) or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {low:g} to {high:g}, not {text}")
        return value

    return number


def register(commands: Any) -> None:
    sim = commands.add_parser(
        "registry-sim", help="run the registry simulator (development and tests only)"
    )
    assert isinstance(sim, Parser)
    sim.add_argument("--host", default="127.0.0.1", help="address to listen on")
    sim.add_argument(
        "--port", type=int_between(1, 65535), default=DEFAULT_PORT, help="port to listen on"
    )
    sim.add_argument(
        "--latency",
        type=number_between(0, 86400),
        default=0.0,
        help="seconds after a request before its answer stops being pending",
    )
    sim.add_argument(
        "--failure-rate",
        type=number_between(0, 1),
        default=0.0,
        help="share of registry calls answered 503 (0 to 1)",
    )
    sim.add_argument(
        "--response-delay",
        type=number_between(0, 600),
        default=0.0,
        help="seconds every registry call waits before it answers",
    )
    sim.add_argument("--seed", type=Path, help="a seed file instead of the bundled seed.json")
    sim.add_argument(
        "--no-accept-unknown",
        action="store_true",
        help="answer unknown for data not in the seeds (default: it matches)",
    )
    sim.add_argument("--log-level", default="info", help="uvicorn's log level (info, debug…)")
    sim.set_defaults(func=cmd_registry_sim)


def cmd_registry_sim(args: argparse.Namespace) -> int:
    import uvicorn

    from idp.levels.simulator import SimulatorConfig, build_app

    config = SimulatorConfig(
        latency=args.latency,
        failure_rate=args.failure_rate,
        response_delay=args.response_delay,
        accept_unknown=not args.no_accept_unknown,
        seed_file=args.seed,
    )
    try:
        app = build_app(config)
    except (OSError, ValueError) as exc:  # the seed file: unreadable, not JSON, a bad status
        raise BadInput(f"--seed {args.seed}: {exc}") from exc
    url = f"http://{args.host}:{args.port}"

    class Announcing(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if self.started:
                print(f"idp registry-sim is ready: {url}", flush=True)

    server = Announcing(
        uvicorn.Config(
            app,
            host=args.host,
            port=args.port,
            log_level=args.log_level,
            server_header=False,
            proxy_headers=False,
        )
    )
    server.run()
    return 0 if server.started else EXIT_FAILURE
