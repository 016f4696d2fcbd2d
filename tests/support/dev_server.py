"""A second live server in dev mode (the start page, the dev mailbox, the demo relying party),
on its own port with its own issuer, beside the suite's ordinary one on the same database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from idp.app import create_app
from idp.clock import Clock
from idp.settings import Settings
from tests.support.live import LiveServer, free_port


def dev_settings(settings: Settings, port: int) -> Settings:
    return settings.model_copy(update={"dev_mode": True, "issuer": f"http://127.0.0.1:{port}"})


@contextmanager
def dev_server(settings: Settings, clock: Clock | None = None) -> Iterator[LiveServer]:
    port = free_port()
    live = LiveServer(create_app(dev_settings(settings, port), clock=clock), port).start()
    try:
        yield live
    finally:
        live.stop()
