"""The contract every notifier must pass. Third-party plug-ins run it in their own tests.

Subclass :class:`NotifierContract` in a pytest module, name the class ``Test…`` and give it a
``harness``: an async context manager that starts whatever stands for the far side (a mail
server, a gateway on loopback), builds the notifier under test, and reports what arrived::

    class TestAcmeSms(NotifierContract):
        @asynccontextmanager
        async def harness(self) -> AsyncIterator[NotifierHarness]:
            gateway = await AcmeGatewayDouble.start()
            try:
                yield AcmeHarness(gateway, AcmeNotifier(url=gateway.url, key="k-secret"))
            finally:
                await gateway.stop()

Each check runs in an event loop of its own (``idp.plugins.testing.run_check``; no pytest-asyncio
needed), so the harness starts its servers inside ``harness()``. The checks close the notifier.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from idp.notify.protocol import Channel, DeliveryFailed, Message, Notifier
from idp.plugins.testing import run_check


@dataclass(frozen=True, slots=True)
class Arrived:
    """One message as the far side received it: the recipient and its decoded text."""

    to: str
    text: str


class NotifierHarness(Protocol):
    @property
    def channel(self) -> Channel: ...

    @property
    def notifier(self) -> Notifier:
        """The notifier under test, built for this check."""
        ...

    @property
    def secrets(self) -> Sequence[str]:
        """Configured secrets (keys, passwords) that must never appear in a failure reason."""
        ...

    async def arrived(self) -> Sequence[Arrived]:
        """What the far side has received so far."""
        ...

    async def fail(self, *, permanent: bool) -> None:
        """Make the far side refuse every message from now on, temporarily or for good."""
        ...

    async def recover(self) -> None:
        """Make the far side accept messages again."""
        ...


_CODE = "531902"


def _message(channel: Channel, index: int = 0) -> Message:
    # Non-ASCII text and a one-time code, as the real templates send.
    to = f"contract{index}@example.ru" if channel == "email" else f"+7999000{index:04d}"
    body = f"Код подтверждения: {_CODE}{index:02d} — проверка №{index}"
    return Message(channel, to, "Подтвердите адрес" if channel == "email" else "", body)


class NotifierContract:
    """The checks. Implement :meth:`harness`; everything else is inherited."""

    timeout: float = 30.0
    concurrent_sends: int = 10

    def harness(self) -> AbstractAsyncContextManager[NotifierHarness]:
        raise NotImplementedError("a NotifierContract subclass provides harness()")

    def test_a_sent_message_arrives(self) -> None:
        async def check(harness: NotifierHarness) -> None:
            message = _message(harness.channel)
            await harness.notifier.send(message)
            arrived = await harness.arrived()
            assert [a.to for a in arrived] == [message.to], arrived
            assert message.body in arrived[0].text, arrived[0].text

        self._run(check)

    def test_a_temporary_failure_is_not_permanent_and_a_retry_arrives(self) -> None:
        async def check(harness: NotifierHarness) -> None:
            message = _message(harness.channel)
            await harness.fail(permanent=False)
            failure = await _failure(harness.notifier.send(message))
            assert failure.permanent is False, str(failure)
            await harness.recover()
            await harness.notifier.send(message)
            assert [a.to for a in await harness.arrived()] == [message.to]

        self._run(check)

    def test_a_permanent_failure_is_permanent(self) -> None:
        async def check(harness: NotifierHarness) -> None:
            await harness.fail(permanent=True)
            failure = await _failure(harness.notifier.send(_message(harness.channel)))
            assert failure.permanent is True, str(failure)
            assert not await harness.arrived()

        self._run(check)

    def test_a_failure_reason_shows_no_recipient_text_or_secret(self) -> None:
        async def check(harness: NotifierHarness) -> None:
            message = _message(harness.channel)
            for permanent in (False, True):
                await harness.fail(permanent=permanent)
                reason = str(await _failure(harness.notifier.send(message)))
                assert reason.strip(), "a failure needs a reason operators can read"
                for hidden in (message.to, message.body, _CODE, *harness.secrets):
                    assert hidden not in reason, f"{hidden!r} leaked into {reason!r}"

        self._run(check)

    def test_close_may_be_called_twice(self) -> None:
        async def check(harness: NotifierHarness) -> None:
            await harness.notifier.send(_message(harness.channel))
            await harness.notifier.close()
            await harness.notifier.close()

        self._run(check)

    def test_close_before_any_send(self) -> None:
        async def check(harness: NotifierHarness) -> None:
            await harness.notifier.close()

        self._run(check)

    def test_concurrent_sends_each_arrive_once(self) -> None:
        async def check(harness: NotifierHarness) -> None:
            messages = [_message(harness.channel, i) for i in range(self.concurrent_sends)]
            await asyncio.gather(*(harness.notifier.send(m) for m in messages))
            arrived = await harness.arrived()
            assert sorted(a.to for a in arrived) == sorted(m.to for m in messages)
            by_recipient = {a.to: a.text for a in arrived}
            for message in messages:
                assert message.body in by_recipient[message.to]

        self._run(check)

    def _run(self, check: Callable[[NotifierHarness], Awaitable[None]]) -> None:
        async def closing(harness: NotifierHarness) -> None:
            try:
                await check(harness)
            finally:
                await harness.notifier.close()

        run_check(self.harness, closing, self.timeout)


async def _failure(sending: Awaitable[None]) -> DeliveryFailed:
    try:
        await sending
    except DeliveryFailed as failure:
        return failure
    raise AssertionError("the send was expected to raise DeliveryFailed")
