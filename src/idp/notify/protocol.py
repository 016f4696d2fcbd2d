"""The one small interface every notification channel implements, and what its factory receives.

A notifier is a plug-in (see ``idp.plugins``): a factory registered under a name in the entry
point group ``idp.notifiers`` takes a :class:`NotifierSetup` and returns a :class:`Notifier`.
``idp.notify.contract`` is the test suite every notifier must pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from idp.clock import Clock
from idp.db.engine import Database
from idp.plugins import PluginMisconfigured

Channel = Literal["email", "sms"]


@dataclass(frozen=True, slots=True)
class Message:
    channel: Channel
    to: str
    subject: str
    body: str


class DeliveryFailed(Exception):
    """The backend could not hand the message over; ``permanent`` means retrying is useless.

    The reason is stored and shown to operators, so it never carries the recipient, the message
    text (it holds one-time codes) or a configured secret: build it with :func:`safe_reason`.
    """

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


def safe_reason(text: str, hide: Iterable[str | None]) -> str:
    """``text`` on one line with every non-empty string of ``hide`` blanked out."""
    for secret in sorted((s for s in hide if s), key=len, reverse=True):
        text = text.replace(secret, "[hidden]")
    return " ".join(text.split())


class Notifier(Protocol):
    """Hands messages to one channel.

    ``send`` may be called concurrently; it returns once the far side accepted the message and
    raises ``DeliveryFailed`` otherwise. ``close`` releases connections and may be called more
    than once.
    """

    async def send(self, message: Message) -> None:
        """Hand the message to the channel, or raise ``DeliveryFailed``."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class NotifierSetup:
    """What a notifier factory receives: its own settings section and the few services it may use.

    ``options`` is the plug-in's section of the settings (``IDP_NOTIFY__PLUGINS__<NAME>__…`` for a
    third-party plug-in); the factory validates it, typically with a pydantic model.
    """

    name: str
    channel: Channel
    options: Mapping[str, Any]
    clock: Clock
    db: Database

    def require_channel(self, *channels: Channel) -> None:
        if self.channel not in channels:
            reason = f"it carries {' and '.join(channels)}, not {self.channel}"
            raise PluginMisconfigured("notifier", self.name, reason)


NotifierFactory = Callable[[NotifierSetup], Notifier]
