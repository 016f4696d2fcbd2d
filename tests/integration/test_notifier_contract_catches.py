"""The contract suite fails notifiers that break the contract: each broken notifier below must
fail the check written for its defect."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest

from idp.notify.backends.memory import MemoryNotifier
from idp.notify.contract import Arrived, NotifierContract, NotifierHarness
from idp.notify.protocol import Channel, DeliveryFailed, Message


class Silent(MemoryNotifier):
    async def send(self, message: Message) -> None:
        return None


class EverythingPermanent(MemoryNotifier):
    async def send(self, message: Message) -> None:
        try:
            await super().send(message)
        except DeliveryFailed as failure:
            raise DeliveryFailed(str(failure), permanent=True) from failure


class Leaky(MemoryNotifier):
    async def send(self, message: Message) -> None:
        try:
            await super().send(message)
        except DeliveryFailed as failure:
            raise DeliveryFailed(f"{message.to} refused", permanent=failure.permanent) from None


class ClosesOnce(MemoryNotifier):
    async def close(self) -> None:
        if self.close_calls:
            raise RuntimeError("already closed")
        await super().close()


class LosesConcurrentSends(MemoryNotifier):
    async def send(self, message: Message) -> None:
        # A read-modify-write across an await: the classic lost update under concurrency.
        kept = list(self.sent)
        await asyncio.sleep(0)
        self.sent = [*kept, message]


@dataclass
class BrokenHarness:
    fake: MemoryNotifier
    channel: Channel = "sms"
    secrets: Sequence[str] = ()

    @property
    def notifier(self) -> MemoryNotifier:
        return self.fake

    async def arrived(self) -> list[Arrived]:
        return [Arrived(m.to, m.body) for m in self.fake.sent]

    async def fail(self, *, permanent: bool) -> None:
        self.fake.fail_always(permanent=permanent)

    async def recover(self) -> None:
        self.fake.recover()


def _contract(notifier: Callable[[], MemoryNotifier]) -> NotifierContract:
    class Broken(NotifierContract):
        timeout = 5.0

        @asynccontextmanager
        async def harness(self) -> AsyncIterator[NotifierHarness]:
            yield BrokenHarness(notifier())

    return Broken()


@pytest.mark.parametrize(
    ("notifier", "check", "error"),
    [
        (Silent, "test_a_sent_message_arrives", AssertionError),
        (
            EverythingPermanent,
            "test_a_temporary_failure_is_not_permanent_and_a_retry_arrives",
            AssertionError,
        ),
        (Leaky, "test_a_failure_reason_shows_no_recipient_text_or_secret", AssertionError),
        (ClosesOnce, "test_close_may_be_called_twice", RuntimeError),
        (LosesConcurrentSends, "test_concurrent_sends_each_arrive_once", AssertionError),
    ],
)
def test_the_contract_fails_a_notifier_that_breaks_it(
    notifier: Callable[[], MemoryNotifier], check: str, error: type[Exception]
) -> None:
    contract = _contract(notifier)
    with pytest.raises(error):
        getattr(contract, check)()


def test_the_contract_passes_the_fake_it_was_derived_from() -> None:
    contract = _contract(MemoryNotifier)
    for name in dir(contract):
        if name.startswith("test_"):
            getattr(contract, name)()
