"""The registry simulator: a small ASGI app standing in for the state registries (``idp
registry-sim``, and in dev mode ``/_registry-sim``). It speaks the ``http`` verifier's wire
protocol (docs/registries.md) and answers from ``seed.json``."""

from idp.levels.simulator.app import build_app
from idp.levels.simulator.state import SimulatorConfig

__all__ = ["SimulatorConfig", "build_app"]
