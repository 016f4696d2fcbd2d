"""The one small interface every notification channel implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Channel = Literal["email", "sms"]


@dataclass(frozen=True, slots=True)
class Message:
    channel: Channel
    to: str
    subject: str
    body: str


class DeliveryFailed(Exception):
    """The backend could not hand the message over; ``permanent`` means retrying is useless."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


class Notifier(Protocol):
    async def send(self, message: Message) -> None:
        """Hand the message to the channel, or raise ``DeliveryFailed``."""
        ...

    async def close(self) -> None: ...
