"""What stops idp from starting outside dev mode, each finding one line naming the setting to fix.

A server that starts without a way to send codes leaves people waiting for an SMS that never
comes (and without a registry gateway, for checks that never run; with a stand-in verifier or
the registry simulator, everyone passes them); a key-encryption key
generated beside the SQLite file is copied with it into every backup (one stolen copy opens all
personal data); an issuer without TLS hands sessions and codes to the
network. `idp serve`, `idp worker` and the application factory stop on these (`enforce`); in
dev mode `idp serve` and `idp worker` log them as one warning and go on. The checks are small
pure functions of the settings (and, for the key's place, of the file systems).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from idp.security.sealing import KEK_FILE
from idp.settings import ConfigurationError, Settings

log = logging.getLogger("idp.startup")

# Where messages are only kept in the database (shown at /dev/mailbox, in dev mode only).
_KEPT_NOT_SENT = frozenset({"dev", "memory"})
# Verifiers that answer without asking a registry (tests and demos only).
_STAND_IN_VERIFIERS = frozenset({"memory"})


def issuer_problem(issuer: str) -> str | None:
    # OIDC Core 3.1.2.1 and Discovery 3: the issuer is an https URL.
    if urlsplit(issuer).scheme == "https":
        return None
    return f"IDP_ISSUER must be an https:// URL outside dev mode, not {issuer!r}"


def notifier_problems(settings: Settings) -> list[str]:
    """A channel whose messages would go nowhere: no gateway URL, no SMTP host, or a sink that
    only dev mode shows."""
    found = []
    sms, email = settings.notifier_name("sms"), settings.notifier_name("email")
    if sms == "http" and not settings.notify.sms.url:
        found.append(
            "IDP_NOTIFY__SMS__URL is not set: SMS codes go to an HTTP gateway outside dev mode "
            "(or name a plug-in in IDP_NOTIFY__SMS_BACKEND)"
        )
    if email == "smtp" and not settings.notify.smtp.host:
        found.append(
            "IDP_NOTIFY__SMTP__HOST is not set: e-mail goes to an SMTP server outside dev mode "
            "(or name a plug-in in IDP_NOTIFY__EMAIL_BACKEND)"
        )
    for channel, name in (("SMS", sms), ("EMAIL", email)):
        if name in _KEPT_NOT_SENT:
            found.append(
                f"IDP_NOTIFY__{channel}_BACKEND={name} keeps messages in the database, "
                "unsent, outside dev mode: choose a notifier that delivers them"
            )
    return found


def verifier_problems(settings: Settings) -> list[str]:
    """A registry answered by a stand-in: the ``memory`` verifier matches everyone by default
    (every account would become standard), and the registry simulator's admin API is open to
    anyone and matches any data it does not know."""
    registries = settings.registries
    found = [
        f"IDP_REGISTRIES__{setting}=memory answers from a table in memory, matching everyone, "
        "outside dev mode: choose a verifier that asks the registries"
        for setting, name in (
            ("PERSON_VERIFIER", registries.person_verifier),
            ("DOCUMENT_VERIFIER", registries.document_verifier),
            ("TAX_VERIFIER", registries.tax_verifier),
        )
        if name in _STAND_IN_VERIFIERS
    ]
    if registries.serve_simulator:
        found.append(
            "IDP_REGISTRIES__SERVE_SIMULATOR=true serves the registry simulator (an admin API "
            "without authentication, matching any data) outside dev mode: unset it"
        )
    return found


def registry_problem(settings: Settings) -> str | None:
    """The ``http`` verifier chosen for a registry with no gateway to ask (in dev mode it asks
    the registry simulator this server mounts), or with one over plain http (personal data in
    clear on the wire, and no client certificate sent)."""
    registries = settings.registries
    chosen = (registries.person_verifier, registries.document_verifier, registries.tax_verifier)
    if "http" not in chosen:
        return None
    if registries.http.base_url:
        if urlsplit(registries.http.base_url).scheme == "https":
            return None
        # The URL itself stays out: it may carry credentials.
        return (
            "IDP_REGISTRIES__HTTP__BASE_URL must be an https:// URL outside dev mode: personal "
            "data goes to the registry gateway"
        )
    return (
        "IDP_REGISTRIES__HTTP__BASE_URL is not set: the http verifier needs a registry gateway "
        "outside dev mode (or name a plug-in in IDP_REGISTRIES__PERSON_VERIFIER, "
        "…__DOCUMENT_VERIFIER, …__TAX_VERIFIER)"
    )


def sqlite_file(database_url: str) -> Path | None:
    """The SQLite database's file; None for PostgreSQL or an in-memory database."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    name = url.database or ""
    if name in ("", ":memory:") or name.startswith("file:") or url.query.get("mode") == "memory":
        return None
    return Path(name)


def device_of(path: Path) -> int:
    """The file system holding ``path``, or the one it would be created on."""
    for candidate in (path, *path.parents):
        try:
            return os.stat(candidate).st_dev
        except FileNotFoundError:
            continue
    raise FileNotFoundError(path)  # pragma: no cover - "/" exists


def kek_location_problem(
    settings: Settings, device: Callable[[Path], int] = device_of
) -> str | None:
    """The generated key file (``IDP_VAR_DIR/kek``, used when ``IDP_KEY_ENCRYPTION_KEY`` is not
    set) inside the SQLite database's directory or on its file system: whoever copies the
    volume, or restores a backup of it, holds the key with the data it seals.

    PostgreSQL needs ``IDP_KEY_ENCRYPTION_KEY`` outside dev mode anyway (``sealing``)."""
    if settings.key_encryption_key is not None:
        return None
    database = sqlite_file(settings.database_url)
    if database is None:
        return None
    kek = settings.var_dir / KEK_FILE
    kek_dir, db_dir = settings.var_dir.resolve(), database.resolve().parent
    fix = "set IDP_KEY_ENCRYPTION_KEY, or IDP_VAR_DIR to a directory on another volume"
    sits = "would sit"
    if kek.exists():  # an installation from before this check: the key itself must move
        sits = "sits"
        fix = (
            f"move {kek} to a directory on another volume and set IDP_VAR_DIR to it, or put "
            "its content in IDP_KEY_ENCRYPTION_KEY (a new key would open none of the data "
            "sealed with it)"
        )
    if kek_dir == db_dir or kek_dir.is_relative_to(db_dir):
        return (
            f"the key-encryption key {kek} {sits} in the directory of the SQLite "
            f"database {database}: {fix}"
        )
    if device(kek_dir) == device(db_dir):
        return (
            f"the key-encryption key {kek} {sits} on the same volume as the SQLite "
            f"database {database}: {fix}"
        )
    return None


def lost_kek_problem(settings: Settings) -> str | None:
    """No key configured and none at ``IDP_VAR_DIR/kek``, yet the SQLite database holds signing
    keys, so data sealed with a key-encryption key: generating a new key would open none of it
    (an operator who moved ``IDP_VAR_DIR`` without the file). None for a new database."""
    kek = settings.var_dir / KEK_FILE
    database = sqlite_file(settings.database_url)
    if settings.key_encryption_key is not None or database is None or kek.exists():
        return None
    if not database.is_file():
        return None
    try:
        read_only = f"{database.resolve().as_uri()}?mode=ro"
        with contextlib.closing(sqlite3.connect(read_only, uri=True)) as connection:
            sealed = connection.execute("SELECT 1 FROM signing_keys LIMIT 1").fetchone()
    except sqlite3.Error:  # no schema yet
        return None
    if sealed is None:
        return None
    return (
        f"the key-encryption key {kek} does not exist, but the SQLite database {database} "
        "holds data sealed with one: move the existing key file there, or put its content in "
        "IDP_KEY_ENCRYPTION_KEY (a new key would open none of that data)"
    )


def signature_problems(settings: Settings) -> list[str]:
    """A development CA outside dev mode: its key sits in a file and certifies anyone's SNILS,
    so every account could confirm itself."""
    if settings.signatures.dev_ca:
        return [
            "IDP_SIGNATURES__DEV_CA=true creates and trusts a development CA (anyone could "
            "confirm an account with its certificates): dev mode only"
        ]
    return []


def problems(settings: Settings) -> list[str]:
    """Everything that stops start-up outside dev mode (``auto`` notifiers resolved as there)."""
    settings = settings.model_copy(update={"dev_mode": False})
    found = [
        issuer_problem(settings.issuer),
        *notifier_problems(settings),
        *verifier_problems(settings),
        registry_problem(settings),
        *signature_problems(settings),
        kek_location_problem(settings),
        lost_kek_problem(settings),
    ]
    return [problem for problem in found if problem]


def enforce(settings: Settings, *, warn: bool = False) -> None:
    """Raise ``ConfigurationError`` (one line, every finding) outside dev mode; in dev mode,
    with ``warn`` (the commands a person starts, not each worker's app), log them as one line."""
    found = problems(settings)
    if found and not settings.dev_mode:
        raise ConfigurationError("; ".join(found))
    if found and warn:
        log.warning("dev mode: outside it idp would refuse to start: %s", "; ".join(found))
