"""Settings choose the notifier by name, end to end: built-ins, the fake, and a third-party
plug-in installed as a real distribution with its own settings section."""

from __future__ import annotations

import asyncio
import importlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from idp.app import create_app
from idp.cli import main
from idp.clock import FrozenClock
from idp.db.engine import Database
from idp.db.migrate import upgrade
from idp.notify.backends.dev_sink import DevSinkNotifier
from idp.notify.backends.memory import MemoryNotifier
from idp.notify.backends.sms_http import HttpSmsNotifier
from idp.notify.backends.smtp import SmtpNotifier
from idp.notify.protocol import Notifier
from idp.notify.registry import build_notifiers
from idp.plugins import PluginMisconfigured, UnknownPlugin
from idp.settings import NotifySettings, Settings
from tests.support.factories import random_phone
from tests.support.plugin_dist import unique_module, write_distribution

PIGEON = """
from pydantic import BaseModel, ConfigDict

from idp.notify.backends.memory import MemoryNotifier
from idp.notify.protocol import NotifierSetup


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sender_id: str


BUILT = []


def build(setup: NotifierSetup) -> MemoryNotifier:
    options = Options.model_validate(setup.options)
    notifier = MemoryNotifier()
    BUILT.append((setup.channel, options.sender_id, notifier))
    return notifier
"""


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/notifiers.db")
    yield database
    await database.dispose()


@pytest.fixture
def pigeon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A third-party notifier, installed as a distribution declaring ``idp.notifiers``."""
    module = unique_module()
    root = write_distribution(
        tmp_path / "site",
        "idp-pigeon",
        {"idp.notifiers": {"pigeon": f"{module}:build"}},
        {module: PIGEON},
    )
    monkeypatch.syspath_prepend(str(root))
    return module


async def _close(notifiers: dict[str, Notifier]) -> None:
    for notifier in notifiers.values():
        await notifier.close()


def _settings(tmp_path: Path, **notify: object) -> Settings:
    return Settings(
        dev_mode=True,  # the fake and the dev sink are refused outside it (test_startup_checks)
        database_url=f"sqlite+aiosqlite:///{tmp_path}/notifiers.db",
        var_dir=tmp_path,
        notify=NotifySettings.model_validate({"poll_interval": 0.1, **notify}),
    )


@pytest.mark.parametrize(
    ("dev_mode", "email", "sms"),
    [(True, DevSinkNotifier, DevSinkNotifier), (False, SmtpNotifier, HttpSmsNotifier)],
)
async def test_auto_is_the_dev_sink_in_dev_mode_and_the_real_adapters_otherwise(
    tmp_path: Path, db: Database, dev_mode: bool, email: type, sms: type
) -> None:
    settings = _settings(tmp_path).model_copy(update={"dev_mode": dev_mode})
    notifiers = build_notifiers(settings, db, FrozenClock())
    await _close(dict(notifiers))
    assert type(notifiers["email"]) is email
    assert type(notifiers["sms"]) is sms


async def test_the_names_of_today_keep_working(tmp_path: Path, db: Database) -> None:
    settings = _settings(tmp_path, email_backend="smtp", sms_backend="dev")
    notifiers = build_notifiers(settings, db, FrozenClock())
    await _close(dict(notifiers))
    assert type(notifiers["email"]) is SmtpNotifier
    assert type(notifiers["sms"]) is DevSinkNotifier


async def test_the_fake_is_chosen_by_its_name(tmp_path: Path, db: Database) -> None:
    notifiers = build_notifiers(
        _settings(tmp_path, email_backend="memory", sms_backend="memory"), db, FrozenClock()
    )
    assert type(notifiers["email"]) is MemoryNotifier
    assert type(notifiers["sms"]) is MemoryNotifier


async def test_a_backend_refuses_a_channel_it_cannot_carry(tmp_path: Path, db: Database) -> None:
    with pytest.raises(PluginMisconfigured) as failure:
        build_notifiers(_settings(tmp_path, sms_backend="smtp"), db, FrozenClock())
    assert (
        str(failure.value) == 'notifier plug-in "smtp" is misconfigured: it carries email, not sms'
    )


async def test_a_third_party_plug_in_gets_its_own_section_from_the_environment(
    tmp_path: Path, db: Database, pigeon: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDP_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/notifiers.db")
    monkeypatch.setenv("IDP_NOTIFY__SMS_BACKEND", "pigeon")
    monkeypatch.setenv("IDP_NOTIFY__PLUGINS__PIGEON__SENDER_ID", "GOSID")
    notifiers = build_notifiers(Settings(), db, FrozenClock())
    await _close(dict(notifiers))
    built = importlib.import_module(pigeon).BUILT
    assert [(channel, sender) for channel, sender, _ in built] == [("sms", "GOSID")]
    assert notifiers["sms"] is built[0][2]


async def test_a_bad_section_names_the_plug_in_in_one_line(
    tmp_path: Path, db: Database, pigeon: str
) -> None:
    settings = _settings(tmp_path, sms_backend="pigeon", plugins={"pigeon": {"sender": "x"}})
    with pytest.raises(PluginMisconfigured) as failure:
        build_notifiers(settings, db, FrozenClock())
    message = str(failure.value)
    assert message.startswith('notifier plug-in "pigeon" is misconfigured: ValidationError')
    assert "\n" not in message


def test_create_app_stops_at_an_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(UnknownPlugin) as failure:
        create_app(_settings(tmp_path, sms_backend="carrier-pigeon"), run_jobs=False)
    assert str(failure.value) == (
        'unknown notifier "carrier-pigeon" (setting IDP_NOTIFY__SMS_BACKEND); '
        "known: dev, http, memory, smtp"
    )


def test_idp_serve_refuses_an_unknown_name_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IDP_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/serve.db")
    monkeypatch.setenv("IDP_NOTIFY__EMAIL_BACKEND", "fax")
    assert main(["serve", "--port", "1"]) == 1
    assert capsys.readouterr().err == (
        'idp: unknown notifier "fax" (setting IDP_NOTIFY__EMAIL_BACKEND); '
        "known: dev, http, memory, smtp\n"
    )


async def test_the_app_sends_through_the_plug_in_the_settings_name(
    tmp_path: Path, pigeon: str
) -> None:
    settings = _settings(
        tmp_path,
        email_backend="memory",
        sms_backend="pigeon",
        plugins={"pigeon": {"sender_id": "GOSID"}},
    )
    await upgrade(settings.database_url)
    app = create_app(settings)
    phone = random_phone()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=settings.issuer) as http:
            created = await http.post(
                "/api/v1/registrations",
                json={
                    "last_name": "Сидорова",
                    "first_name": "Анна",
                    "phone": phone,
                    "personal_data_consent": True,
                },
            )
            assert created.status_code == 201, created.text
        [(channel, sender, notifier)] = importlib.import_module(pigeon).BUILT
        async with asyncio.timeout(20):
            [sms] = await notifier.wait_for(1)
    assert (channel, sender) == ("sms", "GOSID")
    assert sms.to == phone
    assert re.search(r"\b\d{6}\b", sms.body), sms.body
