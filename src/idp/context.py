"""The services one app instance is built from, created once in ``create_app`` and passed down."""

from __future__ import annotations

from dataclasses import dataclass

from idp.clients.cache import ClientCache
from idp.clock import Clock, SystemClock
from idp.db.engine import Database
from idp.keys.jws import TokenSigner
from idp.keys.store import KeyStore
from idp.security.csrf import Csrf
from idp.security.devices import DeviceCookies
from idp.security.passwords import PasswordService
from idp.security.pii import PersonalDataVault
from idp.security.sealing import Keyring, load_or_create_kek
from idp.settings import ConfigurationError, Settings
from idp.startup_checks import enforce, kek_location_problem, lost_kek_problem


def key_encryption_key(settings: Settings) -> bytes:
    # Generated into var/ only where one process owns the data (SQLite) or in development, and
    # outside dev mode never beside the database (every command: `idp migrate` would make it).
    if not settings.dev_mode and (
        problem := kek_location_problem(settings) or lost_kek_problem(settings)
    ):
        raise ConfigurationError(problem)
    return load_or_create_kek(
        settings.key_encryption_key,
        settings.var_dir,
        may_generate=settings.dev_mode or settings.is_sqlite,
    )


def check_settings(settings: Settings) -> None:
    """What stops start-up with one line (``ConfigurationError``): settings that cannot work
    together, what outside dev mode would fail people (``idp.startup_checks``), a missing or
    unusable key-encryption key."""
    settings.check()
    enforce(settings, warn=True)
    key_encryption_key(settings)


@dataclass(slots=True)
class Context:
    settings: Settings
    clock: Clock
    db: Database
    keyring: Keyring
    keys: KeyStore
    signer: TokenSigner
    clients: ClientCache
    passwords: PasswordService
    vault: PersonalDataVault
    csrf: Csrf
    devices: DeviceCookies

    @classmethod
    def build(cls, settings: Settings, clock: Clock | None = None) -> Context:
        settings.check()
        clock = clock or SystemClock()
        keyring = Keyring(key_encryption_key(settings))
        vault = PersonalDataVault(keyring)
        db = Database(settings.database_url, settings.database_pool_size, vault=vault)
        max_ttl = max(settings.tokens.id_token_ttl, settings.tokens.access_token_ttl) + 60
        keys = KeyStore(
            db,
            keyring,
            clock,
            cache_ttl=settings.key_cache_ttl,
            max_token_ttl=max_ttl,
            activation_delay=settings.key_activation_delay,
        )
        return cls(
            settings=settings,
            clock=clock,
            db=db,
            keyring=keyring,
            keys=keys,
            signer=TokenSigner(keys, clock),
            clients=ClientCache(db, settings.client_cache_ttl, settings.client_cache_recheck),
            passwords=PasswordService(settings.argon2),
            vault=vault,
            csrf=Csrf(keyring),
            devices=DeviceCookies(keyring),
        )

    async def close(self) -> None:
        self.passwords.close()
        await self.db.dispose()
