"""docs/settings.md is generated from the settings model and the `idp` command's parser; this
fails when the committed file and a fresh run disagree (run `make settings-doc`)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from idp import settings_doc
from idp.settings import Settings
from idp.settings_doc import UndocumentedSetting, render

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


async def test_the_committed_reference_equals_a_fresh_run(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    # The environment does not leak into the reference: a setting given here changes nothing.
    env |= {"PYTHONWARNINGS": "error", "IDP_ISSUER": "https://elsewhere.example"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "idp.settings_doc",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    assert err == b""
    committed = await asyncio.to_thread(COMMITTED.read_bytes)
    assert out == committed, "docs/settings.md is stale: run `make settings-doc`"


def _every_variable(model: type[BaseModel], prefix: str) -> list[str]:
    names = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names += _every_variable(annotation, f"{prefix}{name.upper()}__")
        else:
            names.append(f"{prefix}{name.upper()}")
    return names


def test_every_setting_and_the_client_options_are_in_it() -> None:
    text = render()
    for variable in _every_variable(Settings, "IDP_"):
        assert f"| `{variable}` |" in text, variable
    assert "| `IDP_FIRST_PARTY_CLIENTS` | JSON list of strings | `[]` |" in text
    assert "| `IDP_CORS_ORIGINS` | JSON list of strings | `[]` |" in text
    assert "| `IDP_NOTIFY__SMS__URL` | string, optional | unset |" in text
    # idp clients create: from the parser, with what a client gets when none is named.
    assert "| `--auth-method` | `client_secret_basic` \\| `client_secret_post` \\| " in text
    assert "| `--grant-type` | `authorization_code` \\| `refresh_token` \\| " in text
    assert "repeatable | `authorization_code` `refresh_token` |" in text
    assert "| `--scope` | `SCOPE`, repeatable | `openid` `profile` `email` `phone` |" in text
    assert "| `client_credentials` | no |" in text
    assert "| `offline_access` | – | no |" in text


def test_a_setting_without_a_description_stops_the_generator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Undocumented(Settings):
        support_email: str = Field(default="help@example.org")

    monkeypatch.setattr(settings_doc, "Settings", Undocumented)
    with pytest.raises(UndocumentedSetting, match="IDP_SUPPORT_EMAIL"):
        render()
