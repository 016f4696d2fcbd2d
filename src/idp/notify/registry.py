"""Notifiers chosen by name in settings: ``notify.email_backend`` and ``notify.sms_backend``.

The names come from the entry point group ``idp.notifiers``; idp's own backends are declared
there too (``pyproject.toml``) and are named below as well, for an install whose metadata is
older than the code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, get_args

from idp.clock import Clock
from idp.db.engine import Database
from idp.notify.protocol import Channel, Notifier, NotifierFactory, NotifierSetup
from idp.plugins import PluginError, PluginMisconfigured, Registry
from idp.settings import NotifySettings, Settings

NOTIFIERS: Registry[NotifierFactory] = Registry(
    kind="notifier",
    group="idp.notifiers",
    builtins={
        "dev": "idp.notify.backends.dev_sink:build",
        "http": "idp.notify.backends.sms_http:build",
        "memory": "idp.notify.backends.memory:build",
        "smtp": "idp.notify.backends.smtp:build",
    },
)

CHANNELS: tuple[Channel, ...] = get_args(Channel)


def backend_name(settings: Settings, channel: Channel) -> str:
    """The name chosen for ``channel``; ``auto`` is the dev sink in dev mode."""
    return settings.notifier_name(channel)


def options_for(settings: NotifySettings, name: str) -> Mapping[str, Any]:
    """A plug-in's own settings section: the built-ins keep their typed sections."""
    if name == "smtp":
        return settings.smtp.model_dump()
    if name == "http":
        return settings.sms.model_dump()
    return settings.plugins.get(name, {})


def _setting(channel: Channel) -> str:
    return f"IDP_NOTIFY__{channel.upper()}_BACKEND"


def check_notifiers(settings: Settings) -> None:
    """Fail now, with one line, if a chosen notifier is unknown or cannot be imported."""
    for channel in CHANNELS:
        NOTIFIERS.load(backend_name(settings, channel), setting=_setting(channel))


def build_notifiers(settings: Settings, db: Database, clock: Clock) -> dict[Channel, Notifier]:
    built: dict[Channel, Notifier] = {}
    for channel in CHANNELS:
        name = backend_name(settings, channel)
        factory = NOTIFIERS.load(name, setting=_setting(channel))
        setup = NotifierSetup(name, channel, options_for(settings.notify, name), clock, db)
        try:
            built[channel] = factory(setup)
        except PluginError:
            raise
        except Exception as exc:  # foreign code: a bad section surfaces as pydantic's error
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
            raise PluginMisconfigured("notifier", name, reason) from exc
    return built
