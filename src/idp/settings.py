"""One typed settings tree, read once from the environment (prefix ``IDP_``, nested with ``__``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, IPvAnyNetwork, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PasswordPolicyName = Literal["portal", "nist"]


class TokenSettings(BaseModel):
    """Lifetimes in seconds."""

    authorization_code_ttl: int = Field(default=60, ge=5, le=60)  # FAPI 2.0: at most 60 s
    access_token_ttl: int = Field(default=600, ge=30, le=86400)
    id_token_ttl: int = Field(default=600, ge=30, le=86400)
    refresh_token_ttl: int = Field(default=30 * 86400, ge=60)
    refresh_token_idle_ttl: int = Field(default=7 * 86400, ge=60)
    client_assertion_max_age: int = Field(default=300, ge=10)


class SessionSettings(BaseModel):
    idle_ttl: int = Field(default=3600, ge=60)  # NIST 800-63B-4 AAL2: 1 h inactivity
    absolute_ttl: int = Field(default=86400, ge=300)  # AAL2: 24 h overall
    interaction_ttl: int = Field(default=1800, ge=60)


class ConsoleSettings(BaseModel):
    """The account console (``/account``)."""

    # A password or contact change needs a login at most this many seconds old; an older one
    # asks for the password again first (ASVS 5.0 7.5.1).
    reauth_within: int = Field(default=300, ge=30, le=86400)
    sign_ins_shown: int = Field(default=20, ge=1, le=100)


class LogoutSettings(BaseModel):
    """Back-channel logout: the `backchannel_logout` jobs of the job queue and their retries."""

    token_ttl: int = Field(default=120, ge=10, le=600)  # Back-Channel Logout §2.4: short
    connect_timeout: float = Field(default=2.0, gt=0)
    request_timeout: float = Field(default=5.0, gt=0)  # the whole POST, connect included
    resolve_timeout: float = Field(default=2.0, gt=0)  # the RP's name lookup
    # PEM bundle of the CAs that RPs' certificates chain to; unset: the system's trust store.
    ca_file: str | None = None
    inline_wait: float = Field(default=2.0, ge=0)  # how long a logout page waits for RPs
    retry_period: int = Field(default=86400, ge=60)  # then the delivery is marked failed
    backoff_base: float = Field(default=2.0, gt=0)
    backoff_max: float = Field(default=900.0, gt=0)
    lease: float = Field(default=60.0, gt=0)  # a claimed delivery is retried after this
    poll_interval: float = Field(default=1.0, gt=0)
    batch_size: int = Field(default=500, ge=1)
    max_concurrency: int = Field(default=512, ge=1)  # open connections at once (file handles)
    frontchannel_wait: int = Field(default=3, ge=1, le=30)
    revoke_offline_access: bool = False
    block_private_addresses: bool = True
    sweep_interval: float = Field(default=30.0, gt=0)
    # Outbound proxy for deliveries, e.g. "http://proxy.internal:3128"; it then resolves and
    # connects, so it must do the egress filtering. HTTPS_PROXY and the like are ignored
    # unless trust_env_proxy is set.
    proxy: str | None = None
    trust_env_proxy: bool = False


class JobsSettings(BaseModel):
    """The job queue's workers as a whole (each kind's policy is in its own section)."""

    # On shutdown: how long running jobs may still finish before they are handed back.
    stop_grace: float = Field(default=5.0, ge=0)


class SmtpSettings(BaseModel):
    host: str = "localhost"
    port: int = 25
    username: str | None = None
    password: str | None = None
    start_tls: bool = False
    use_tls: bool = False
    sender: str = "idp <no-reply@localhost>"
    timeout: float = 10.0


class SmsGatewaySettings(BaseModel):
    """An HTTP SMS gateway: POST ``url`` with ``body_template`` (JSON with ``{to}``, ``{text}``)."""

    url: str = "http://127.0.0.1:9/sms"
    body_template: str = '{"to": "{to}", "text": "{text}"}'
    auth_header: str | None = None  # e.g. "Bearer …", sent as Authorization
    timeout: float = 10.0


class NotifySettings(BaseModel):
    # A notifier plug-in's name (idp.notify.registry): smtp, http, dev, memory or a third party's.
    # "auto": the dev sink in dev mode, smtp / http otherwise. Checked when the app starts.
    email_backend: str = "auto"
    sms_backend: str = "auto"
    smtp: SmtpSettings = SmtpSettings()
    sms: SmsGatewaySettings = SmsGatewaySettings()
    # Third-party plug-ins' own sections, by plug-in name: IDP_NOTIFY__PLUGINS__<NAME>__<KEY>.
    plugins: dict[str, dict[str, Any]] = {}
    poll_interval: float = Field(default=1.0, gt=0)
    lease: float = Field(default=60.0, gt=0)
    retry_period: int = Field(default=3600, ge=60)
    backoff_base: float = Field(default=5.0, gt=0)
    backoff_max: float = Field(default=300.0, gt=0)
    batch_size: int = Field(default=100, ge=1)
    # Paid SMS across every instance and purpose, per clock hour window (SMS pumping costs
    # money). Codes are refused once it is spent; notices to confirmed contacts still go.
    sms_hourly_budget: int = Field(default=1000, ge=1)


class VerificationSettings(BaseModel):
    """Confirming phones and e-mail addresses."""

    sms_code_ttl: int = Field(default=300, ge=60, le=600)  # 5 min; NIST 800-63B: at most 10
    sms_code_length: int = Field(default=6, ge=6, le=10)
    max_attempts: int = Field(default=5, ge=1, le=20)  # wrong codes per code, resends included
    resend_cooldown: int = Field(default=60, ge=10)
    max_sends_per_hour: int = Field(default=5, ge=1)  # per purpose and phone or address
    # Code and link messages one sender may cause per hour, whatever the targets: a client
    # address for unauthenticated sends (registration, reset), the account for its contacts.
    max_sends_per_sender_per_hour: int = Field(default=30, ge=1)
    email_link_ttl: int = Field(default=3 * 86400, ge=600)  # the portal's 3 days
    registration_ttl: int = Field(default=86400, ge=600)
    email_code_ttl: int = Field(default=900, ge=60, le=86400)  # a code sent by e-mail (reset)
    password_reset_ttl: int = Field(default=1800, ge=300, le=86400)
    max_contacts: int = Field(default=10, ge=2, le=50)  # phones and e-mails per account


class ConfigurationError(ValueError):
    """Settings idp cannot run with; start-up stops with this one line."""


class ThrottleSettings(BaseModel):
    """Failed logins: a growing delay per account and per client address, never a hard lock."""

    free_failures: int = Field(default=5, ge=1)
    base_delay: float = Field(default=1.0, ge=0)
    max_delay: float = Field(default=900.0, ge=0)
    window: int = Field(default=3600, ge=60)
    per_address_free_failures: int = Field(default=30, ge=1)
    # Strangers' failures against one account, whichever identifier they typed: generous, so a
    # stranger cannot keep the owner out for long (NIST 800-63B-4 §3.2.2: at most 100).
    per_account_free_failures: int = Field(default=100, ge=1, le=100)
    device_cookie_ttl: int = Field(default=400 * 86400, ge=86400)  # RFC 6265bis caps at 400 days


class HousekeepingSettings(BaseModel):
    """Deleting what has run out: grants, refresh tokens and browser sessions are kept
    ``retention`` seconds after they ended (audit questions, refresh-token replay still answered
    as reuse), then deleted ``batch_size`` rows per statement."""

    retention: int = Field(default=86400, ge=0)
    batch_size: int = Field(default=1000, ge=1)


class Argon2Settings(BaseModel):
    """OWASP's argon2id floor is m=19 MiB, t=2, p=1; we use m=19 MiB, t=2 by default."""

    time_cost: int = Field(default=2, ge=1)
    memory_cost_kib: int = Field(default=19456, ge=8)
    parallelism: int = Field(default=1, ge=1)
    pool_size: int = Field(default=0, ge=0)  # 0: one worker per core
    # Hashes allowed to wait for a worker; beyond that the request is refused at once (503)
    # instead of queueing without limit.
    max_waiting: int = Field(default=32, ge=0)
    busy_retry_after: int = Field(default=2, ge=1)  # seconds, the 503's Retry-After


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="IDP_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    issuer: str = "http://127.0.0.1:8000"
    database_url: str = "sqlite+aiosqlite:///./var/idp.db"
    database_pool_size: int = 10
    var_dir: Path = Path("./var")
    key_encryption_key: str | None = None  # base64url 32 bytes; generated into var_dir if absent
    dev_mode: bool = False
    default_id_token_alg: Literal["ES256", "RS256", "EdDSA"] = "ES256"
    password_policy: PasswordPolicyName = "portal"
    tokens: TokenSettings = TokenSettings()
    sessions: SessionSettings = SessionSettings()
    console: ConsoleSettings = ConsoleSettings()
    throttle: ThrottleSettings = ThrottleSettings()
    logout: LogoutSettings = LogoutSettings()
    notify: NotifySettings = NotifySettings()
    jobs: JobsSettings = JobsSettings()
    verification: VerificationSettings = VerificationSettings()
    argon2: Argon2Settings = Argon2Settings()
    housekeeping: HousekeepingSettings = HousekeepingSettings()
    client_cache_ttl: float = 30.0
    # Signing keys: how long a process keeps the key set, how long relying parties may cache the
    # JWKS (its Cache-Control max-age), and how long a rotated-in key is published before it
    # signs. The delay must outlast both caches (``check``).
    key_cache_ttl: float = Field(default=30.0, gt=0)
    jwks_max_age: int = Field(default=60, ge=0)
    # /metrics answers only a scraper that presents this bearer token; without one it is 404.
    # Its counters are no personal data, but they tell an attacker how close a budget is.
    metrics_token: str | None = Field(default=None, min_length=16)
    key_activation_delay: int = Field(default=120, ge=0)
    max_param_length: int = 2048
    # Reverse proxies (CIDRs) whose X-Forwarded-For entries are believed; empty: the peer
    # address is the client's (idp.http.client_address).
    trusted_proxies: list[IPvAnyNetwork] = []
    # Front-end origins allowed to call /api/ from a browser (CORS, with credentials).
    cors_origins: list[str] = []
    # Clients whose Bearer access tokens may call the person's own /api/v1/me endpoints.
    first_party_clients: list[str] = []

    @field_validator("issuer")
    @classmethod
    def _issuer_has_no_trailing_slash(cls, value: str) -> str:
        # OIDC Discovery 4.3: the issuer in metadata must equal the one used to fetch it.
        return value.rstrip("/")

    @field_validator("cors_origins")
    @classmethod
    def _origins_are_exact(cls, value: list[str]) -> list[str]:
        # With credentials allowed, a wildcard would hand the person's session to any site.
        cleaned = [origin.rstrip("/") for origin in value]
        for origin in cleaned:
            parts = urlsplit(origin)
            if parts.scheme not in ("https", "http") or not parts.netloc or parts.path:
                raise ValueError(f"not an exact origin (scheme://host[:port]): {origin!r}")
        return cleaned

    def check(self) -> None:
        """Settings that validate one by one but cannot work together: raised at start-up."""
        if self.key_activation_delay <= self.jwks_max_age + self.key_cache_ttl:
            # A JWKS served from a process's cache just before a rotation is kept by relying
            # parties for max-age more: a key that signs sooner is one they cannot yet see.
            raise ConfigurationError(
                f"IDP_KEY_ACTIVATION_DELAY ({self.key_activation_delay} s) must exceed "
                f"IDP_JWKS_MAX_AGE ({self.jwks_max_age} s) plus IDP_KEY_CACHE_TTL "
                f"({self.key_cache_ttl:g} s)"
            )

    @property
    def secure_cookies(self) -> bool:
        return self.issuer.startswith("https://")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
