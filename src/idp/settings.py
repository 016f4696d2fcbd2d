"""One typed settings tree, read once from the environment (prefix ``IDP_``, nested with ``__``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, IPvAnyNetwork, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PasswordPolicyName = Literal["portal", "nist"]
_PRODUCTION_NOTIFIERS = {"email": "smtp", "sms": "http"}


def _doc(default: Any, description: str, **constraints: Any) -> Any:
    """A field with its description: ``docs/settings.md`` is generated from these."""
    return Field(default=default, description=description, **constraints)


class TokenSettings(BaseModel):
    """Token lifetimes, in seconds."""

    authorization_code_ttl: int = _doc(
        60, "Authorization code lifetime; FAPI 2.0 allows at most 60 s.", ge=5, le=60
    )
    access_token_ttl: int = _doc(600, "Access token lifetime.", ge=30, le=86400)
    id_token_ttl: int = _doc(600, "ID token lifetime.", ge=30, le=86400)
    refresh_token_ttl: int = _doc(
        30 * 86400, "Absolute lifetime of a refresh chain (30 days).", ge=60
    )
    refresh_token_idle_ttl: int = _doc(
        7 * 86400, "A refresh token unused this long expires (7 days).", ge=60
    )
    client_assertion_max_age: int = _doc(
        300, "Oldest `iat` accepted in a `private_key_jwt` client assertion.", ge=10
    )


class SessionSettings(BaseModel):
    """Single sign-on sessions, in seconds."""

    idle_ttl: int = _doc(
        3600, "A session unused this long ends (NIST 800-63B-4 AAL2: 1 h inactivity).", ge=60
    )
    absolute_ttl: int = _doc(86400, "A session ends this long after login (AAL2: 24 h).", ge=300)
    interaction_ttl: int = _doc(
        1800, "How long a login or consent page may stay open before it expires.", ge=60
    )


class ConsoleSettings(BaseModel):
    """The account console (``/account``)."""

    reauth_within: int = _doc(
        300,
        "Seconds a login counts as recent in the account console: changing the password or a "
        "contact after that asks for the password again (ASVS 5.0 7.5.1); adding or removing "
        "a contact over the REST API is refused (403 reauthentication-required).",
        ge=30,
        le=86400,
    )
    sign_ins_shown: int = _doc(
        20,
        "How many recent sign-ins the console and `GET /api/v1/me/sign-ins` list.",
        ge=1,
        le=100,
    )


class LogoutSettings(BaseModel):
    """Back-channel logout: the `backchannel_logout` jobs of the job queue and their retries."""

    token_ttl: int = _doc(
        120, "Lifetime of a logout token (Back-Channel Logout §2.4: short).", ge=10, le=600
    )
    connect_timeout: float = _doc(2.0, "Seconds per TCP connect to a relying party.", gt=0)
    request_timeout: float = _doc(
        5.0, "Seconds per back-channel POST, the whole exchange, connect included.", gt=0
    )
    resolve_timeout: float = _doc(
        2.0,
        "Seconds for the name lookup of an RP's host; a slower lookup fails that try "
        "(retried later).",
        gt=0,
    )
    ca_file: str | None = _doc(
        None,
        "PEM file of the CAs that RPs' certificates must chain to; unset: the system's trust "
        "store (`SSL_CERT_FILE` is honoured).",
    )
    inline_wait: float = _doc(
        2.0,
        "How long the logout page waits for relying parties before moving on (the rest "
        "continues in the background).",
        ge=0,
    )
    retry_period: int = _doc(
        86400, "How long failed deliveries are retried before they are marked failed.", ge=60
    )
    backoff_base: float = _doc(2.0, "First delay between retries (doubling, with jitter).", gt=0)
    backoff_max: float = _doc(900.0, "Longest delay between retries.", gt=0)
    lease: float = _doc(
        60.0, "A delivery taken by an instance that dies is retried after this many seconds.", gt=0
    )
    poll_interval: float = _doc(1.0, "Seconds between looks for due deliveries.", gt=0)
    batch_size: int = _doc(500, "Deliveries claimed at once.", ge=1)
    max_concurrency: int = _doc(
        512, "Deliveries one process runs at once (open connections, so file handles).", ge=1
    )
    frontchannel_wait: int = _doc(
        3, "Seconds the front-channel logout page shows the RPs' frames.", ge=1, le=30
    )
    revoke_offline_access: bool = _doc(
        False, "Also revoke `offline_access` refresh tokens when a session ends."
    )
    block_private_addresses: bool = _doc(
        True,
        "Refuse back-channel targets on loopback, private, link-local or otherwise non-public "
        "addresses, and plain http altogether; `false` allows those addresses, and plain http "
        "to them (never to a public host).",
    )
    sweep_interval: float = _doc(
        30.0, "How often expired sessions are found and logged out at every RP.", gt=0
    )
    proxy: str | None = _doc(
        None,
        "An outbound proxy for every back-channel POST (`http://proxy.internal:3128`); the proxy "
        "then resolves and connects, so it must do the egress filtering.",
    )
    trust_env_proxy: bool = _doc(
        False,
        "Use the proxy the environment names (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, minus "
        "`NO_PROXY`); otherwise those variables are ignored.",
    )


class JobsSettings(BaseModel):
    """The job queue's workers as a whole (each kind's policy is in its own section)."""

    stop_grace: float = _doc(
        5.0,
        "On shutdown: seconds running jobs may still finish before they are handed back.",
        ge=0,
    )


class SmtpSettings(BaseModel):
    """The SMTP server e-mail goes through (notifier `smtp`)."""

    host: str | None = _doc(
        None,
        "The SMTP server's host name; required outside dev mode when e-mail goes through "
        "`smtp` (idp refuses to start without it).",
    )
    port: int = _doc(25, "The SMTP server's port.")
    username: str | None = _doc(None, "Login name, if the server wants one.")
    password: str | None = _doc(None, "Password for `username`.")
    start_tls: bool = _doc(False, "Upgrade the connection with STARTTLS.")
    use_tls: bool = _doc(False, "Connect with TLS from the start (port 465).")
    sender: str = _doc("idp <no-reply@localhost>", "The `From` of every message.")
    timeout: float = _doc(10.0, "Seconds per message, connect included.")


class SmsGatewaySettings(BaseModel):
    """An HTTP SMS gateway (notifier `http`): idp POSTs the body template to the URL."""

    url: str | None = _doc(
        None,
        "The gateway URL; required outside dev mode when SMS go through `http` (idp refuses "
        "to start without it).",
    )
    body_template: str = _doc(
        '{"to": "{to}", "text": "{text}"}',
        "The JSON body; `{to}` and `{text}` are filled in, escaped for a JSON string.",
    )
    auth_header: str | None = _doc(None, "Sent as `Authorization` (e.g. `Bearer …`).")
    timeout: float = _doc(10.0, "Seconds per message, connect included.")


class NotifySettings(BaseModel):
    """SMS and e-mail: which notifier carries each channel, and the `notification` jobs."""

    email_backend: str = _doc(
        "auto",
        "A notifier plug-in's name: `smtp`, `dev` (kept in the database, shown at "
        "`/dev/mailbox`), `memory` (tests) or a third party's; `auto` is `dev` in dev mode, "
        "`smtp` otherwise.",
    )
    sms_backend: str = _doc(
        "auto",
        "A notifier plug-in's name: `http` (an HTTP SMS gateway), `dev`, `memory` or a third "
        "party's; `auto` is `dev` in dev mode, `http` otherwise.",
    )
    smtp: SmtpSettings = SmtpSettings()
    sms: SmsGatewaySettings = SmsGatewaySettings()
    plugins: dict[str, dict[str, Any]] = _doc(
        {},
        "Third-party notifiers' own sections, by plug-in name: "
        "`IDP_NOTIFY__PLUGINS__<NAME>__<KEY>`.",
    )
    poll_interval: float = _doc(1.0, "Seconds between looks for due messages.", gt=0)
    lease: float = _doc(
        60.0, "A message taken by an instance that dies is retried after this many seconds.", gt=0
    )
    retry_period: int = _doc(
        3600,
        "How long a message is retried (a message with a code: at most until the code expires).",
        ge=60,
    )
    backoff_base: float = _doc(5.0, "First delay between retries (doubling, with jitter).", gt=0)
    backoff_max: float = _doc(300.0, "Longest delay between retries.", gt=0)
    batch_size: int = _doc(100, "Messages claimed, and sent, at once.", ge=1)
    sms_hourly_budget: int = _doc(
        1000,
        "Code SMS across every instance and purpose per clock hour (SMS pumping costs money); "
        "codes are refused once it is spent, notices to confirmed contacts still go.",
        ge=1,
    )


REGISTRY_SIMULATOR_PATH = "/_registry-sim"  # where create_app mounts the registry simulator
DEV_CA_PATH = "/_dev-ca"  # where create_app serves the development CA's CRL and OCSP (dev mode)


class RegistryHttpSettings(BaseModel):
    """The built-in `http` registry adapter: JSON over HTTPS to a registry gateway."""

    base_url: str | None = _doc(
        None,
        "The gateway's base URL, `https://…` (plain http only in dev mode); unset in dev mode: "
        "this server's own registry simulator at `{issuer}/_registry-sim`.",
    )
    client_cert: str | None = _doc(
        None, "PEM file with the client certificate for mutual TLS (and its key, unless given)."
    )
    client_key: str | None = _doc(None, "PEM file with the client certificate's private key.")
    ca_file: str | None = _doc(
        None, "PEM file of the CAs the gateway's certificate is checked against (default: system)."
    )
    connect_timeout: float = _doc(5.0, "Seconds to connect.", gt=0)
    timeout: float = _doc(10.0, "Seconds per request, connect included.", gt=0)
    retries: int = _doc(
        2, "Immediate retries of one call after a network error or a 5xx (then the job's).", ge=0
    )
    retry_backoff: float = _doc(
        0.2, "First pause between those retries in seconds (doubling).", ge=0
    )


class RegistriesSettings(BaseModel):
    """Registry checks for the standard level: which verifier asks each registry, and the
    `registry_check` jobs that run them."""

    person_verifier: str = _doc(
        "http",
        "Verifier plug-in for the pension fund (name, SNILS, sex, birth date): `http`, "
        "`memory` (tests and dev mode only: refused at start-up outside it) or a third party's "
        "(entry point group `idp.verifiers`).",
    )
    document_verifier: str = _doc(
        "http", "Verifier plug-in for the interior ministry (identity documents)."
    )
    tax_verifier: str = _doc("http", "Verifier plug-in for the tax service (INN).")
    http: RegistryHttpSettings = RegistryHttpSettings()
    plugins: dict[str, dict[str, Any]] = _doc(
        {},
        "Third-party verifiers' own sections, by plug-in name: "
        "`IDP_REGISTRIES__PLUGINS__<NAME>__<KEY>`.",
    )
    serve_simulator: bool | None = _doc(
        None,
        "Serve the registry simulator at `/_registry-sim` (unset: in dev mode only). Outside dev "
        "mode idp refuses to start with it set: its admin API is open and it matches any data.",
    )
    max_changes_per_day: int = _doc(
        10,
        "Changed saves of one person's data per 24 hours (each starts registry requests that "
        "cost the state gateway; identical saves, and changes only of fields no registry "
        "receives, do not count). Beyond it: 429 with Retry-After.",
        ge=1,
    )
    poll_interval: float = _doc(1.0, "Seconds between looks for due checks.", gt=0)
    answer_wait_base: float = _doc(
        2.0, "First pause before asking a registry again for an answer (doubling).", gt=0
    )
    answer_wait_max: float = _doc(
        300.0, "Longest pause between two questions for the same answer.", gt=0
    )
    lease: float = _doc(
        60.0, "A check taken by a worker that dies is taken up again after this many seconds.", gt=0
    )
    retry_period: int = _doc(
        7 * 86400,
        "How long a check may wait for its registry before it fails with `registry_timeout`.",
        ge=60,
    )
    backoff_base: float = _doc(
        5.0, "First delay after a registry error (doubling, with jitter).", gt=0
    )
    backoff_max: float = _doc(600.0, "Longest delay after registry errors.", gt=0)
    batch_size: int = _doc(50, "Checks claimed, and run, at once by one process.", ge=1)


class SignaturesSettings(BaseModel):
    """Qualified electronic signatures (`idp.signatures`): which algorithms and certificate
    profiles are accepted, the trust list of accredited CAs, revocation checks, and the
    challenges a person signs to confirm their account."""

    algorithms: list[str] = _doc(
        ["pyca", "gost"],
        "Signature algorithm plug-ins (entry point group `idp.signature_algorithms`): `pyca` "
        "(RSA, RSA-PSS, ECDSA), `gost` (GOST R 34.10-2012 256/512 with Streebog); each serves "
        "the algorithm OIDs it names, and a signature in any other is refused as "
        "`unknown_algorithm`.",
    )
    profiles: list[str] = _doc(
        ["ru-fsb795", "eu-eidas"],
        "Qualified certificate profiles tried in this order: `ru-fsb795` (Russian qualified "
        "certificate, FSB order 795), `eu-eidas` (ETSI EN 319 412 QCStatements).",
    )
    trust_sources: list[str] = _doc(
        [],
        "Trust lists refreshed on a schedule: paths of files or directories, or `https://` URLs "
        "(PEM or DER certificates, an ETSI TS 119 612 trusted list, or the Russian "
        "accredited-CA list XML). `idp trust import` adds others by hand.",
    )
    trust_refresh_every: int = _doc(
        86400,
        "Seconds between two refreshes of every trust source (after a refresh in which a source "
        "failed: at most 900).",
        ge=60,
    )
    trust_recheck: float = _doc(
        30.0,
        "Seconds an instance uses its copy of the trust list before it checks whether another "
        "instance or `idp trust import` changed it.",
        gt=0,
    )
    revocation_unavailable: Literal["refuse", "accept"] = _doc(
        "refuse",
        "What a certificate whose CRL and OCSP responder cannot be reached means: `refuse` "
        "(fail closed: the signature is refused with `revocation_unavailable`) or `accept` "
        "(fail open, not recommended).",
    )
    revocation_timeout: float = _doc(10.0, "Seconds for one CRL download or OCSP request.", gt=0)
    revocation_max_bytes: int = _doc(
        32 * 1024 * 1024, "Largest CRL or OCSP response read, in bytes.", ge=1024
    )
    revocation_cache_size: int = _doc(
        512, "CRLs and OCSP responses kept per process, each until its nextUpdate.", ge=0
    )
    revocation_cache_bytes: int = _doc(
        256 * 1024 * 1024,
        "Bytes of CRLs and OCSP responses kept per process in all (the least recently used "
        "go first; an answer larger than this is used once and not kept).",
        ge=0,
    )
    crl_max_age: int = _doc(
        86400,
        "Seconds a CRL is kept at most, however late its own nextUpdate.",
        ge=60,
    )
    ocsp_max_age: int = _doc(
        3600,
        "Seconds an OCSP response is kept at most, however late its own nextUpdate.",
        ge=60,
    )
    revocation_ports: list[int] = _doc(
        [80, 443],
        "The only ports a CRL or OCSP URL may name on a public host (dev mode: any).",
        min_length=1,
    )
    revocation_concurrency: int = _doc(
        16,
        "CRL downloads and OCSP requests one process runs at once; more wait for a slot "
        "within their timeout.",
        ge=1,
    )
    revocation_failure_ttl: float = _doc(
        30.0,
        "Seconds a CRL or OCSP URL that just failed is not asked again: verifications meanwhile "
        "get `revocation_unavailable` at once instead of each waiting for the timeout (0: "
        "always ask).",
        ge=0,
    )
    pool: Literal["process", "thread"] = _doc(
        "process",
        "Where verification's CPU work runs: `process` (a pool of processes, one per core: "
        "pure-Python GOST runs in parallel and never holds the event loop) or `thread`.",
    )
    pool_size: int = _doc(
        0,
        "Workers in that pool; 0: one per core. Each `idp serve --workers` process has its own "
        "pool: keep `pool_size` × workers at most the cores.",
        ge=0,
    )
    max_in_flight: int = _doc(
        0,
        "Verifications one process runs at once (0: twice `pool_size`); another waits 2 s for "
        "a place, then is answered 503 with Retry-After.",
        ge=0,
    )
    verify_timeout: float = _doc(
        20.0,
        "Seconds one verification may take, revocation fetches included; past them it is "
        "answered 503 with Retry-After (the signature is not judged).",
        gt=0,
    )
    challenge_ttl: int = _doc(
        300, "Seconds a challenge may be signed and submitted.", ge=30, le=3600
    )
    challenges_per_hour: int = _doc(
        20, "Challenges one account may ask for in an hour (each submit costs CPU).", ge=1
    )
    max_signature_bytes: int = _doc(
        256 * 1024,
        "Largest signature (CMS, certificates included) accepted, in bytes.",
        ge=4096,
    )
    dev_ca: bool | None = _doc(
        None,
        "Create and trust a development CA under `IDP_VAR_DIR/dev-ca` and serve its CRL and "
        "OCSP at `/_dev-ca`, with `idp dev sign` and the console's dev signer (unset: in dev "
        "mode only; refused outside it).",
    )


class VerificationSettings(BaseModel):
    """Confirming phones and e-mail addresses; times in seconds."""

    sms_code_ttl: int = _doc(
        300, "Lifetime of an SMS code (NIST 800-63B: at most 10 minutes).", ge=60, le=600
    )
    sms_code_length: int = _doc(6, "Digits in an SMS code.", ge=6, le=10)
    max_attempts: int = _doc(5, "Wrong codes allowed per code, resends included.", ge=1, le=20)
    resend_cooldown: int = _doc(60, "Seconds before a code may be sent again.", ge=10)
    max_sends_per_hour: int = _doc(
        5, "Codes and links per purpose and phone or address per hour.", ge=1
    )
    max_sends_per_sender_per_hour: int = _doc(
        30,
        "Code and link messages one sender may cause per hour, whatever the targets: a client "
        "address for unauthenticated sends (registration, reset), the account for its contacts.",
        ge=1,
    )
    email_link_ttl: int = _doc(
        3 * 86400, "Lifetime of an e-mail confirmation link (the portal's 3 days).", ge=600
    )
    registration_ttl: int = _doc(86400, "How long an unfinished registration is kept.", ge=600)
    email_code_ttl: int = _doc(
        900, "Lifetime of a code sent by e-mail (password reset).", ge=60, le=86400
    )
    password_reset_ttl: int = _doc(
        1800, "How long a started password reset may be finished.", ge=300, le=86400
    )
    max_contacts: int = _doc(10, "Phones and e-mail addresses per account.", ge=2, le=50)


class ConfigurationError(ValueError):
    """Settings idp cannot run with; start-up stops with this one line."""


class ThrottleSettings(BaseModel):
    """Failed logins: a growing delay per account and per client address, never a hard lock."""

    free_failures: int = _doc(
        5,
        "Failed logins per login identifier (and per known device) before delays start.",
        ge=1,
    )
    base_delay: float = _doc(1.0, "The first delay in seconds; it then doubles.", ge=0)
    max_delay: float = _doc(900.0, "The longest delay in seconds.", ge=0)
    window: int = _doc(3600, "Seconds a failure counts.", ge=60)
    per_address_free_failures: int = _doc(
        30, "Failed logins per client address before delays start.", ge=1
    )
    per_account_free_failures: int = _doc(
        100,
        "Strangers' failures against one account, whichever identifier they typed, from "
        "browsers the account never logged in from (NIST 800-63B-4 §3.2.2: at most 100).",
        ge=1,
        le=100,
    )
    device_cookie_ttl: int = _doc(
        400 * 86400,
        "Seconds the `idp_device` cookie lives (RFC 6265bis caps it at 400 days).",
        ge=86400,
    )


class HousekeepingSettings(BaseModel):
    """Deleting what has run out: grants, refresh tokens and browser sessions."""

    retention: int = _doc(
        86400,
        "Seconds ended grants, refresh tokens and sessions are kept (audit questions, refresh "
        "token replay still answered as reuse) before they are deleted.",
        ge=0,
    )
    batch_size: int = _doc(1000, "Rows deleted per statement.", ge=1)


class Argon2Settings(BaseModel):
    """Password hashing (argon2id; OWASP's floor is m=19 MiB, t=2, p=1)."""

    time_cost: int = _doc(2, "Iterations.", ge=1)
    memory_cost_kib: int = _doc(19456, "Memory per hash in KiB.", ge=8)
    parallelism: int = _doc(1, "Lanes per hash.", ge=1)
    pool_size: int = _doc(0, "Threads hashing at once; 0: one per core.", ge=0)
    max_waiting: int = _doc(
        32,
        "Hashes allowed to wait for a thread; beyond that the request is refused at once "
        "(503) instead of queueing without limit.",
        ge=0,
    )
    busy_retry_after: int = _doc(2, "Seconds, the 503's `Retry-After`.", ge=1)


class FooterLink(BaseModel):
    """A link in every page's footer; ``label`` in one text or per language (``{"ru": …}``)."""

    label: str | dict[str, str]
    url: str


class BrandSettings(BaseModel):
    """What pages look like (idp.web.theme). Unset values come from ``IDP_THEME_DIR``'s
    ``theme.json``, then from the built-in look."""

    name: str | dict[str, str] | None = _doc(
        None, 'The service\'s name: one text or per language (`{"ru": ..., "en": ...}`).'
    )
    logo: str | None = _doc(None, "The logo: a path on this origin, e.g. `/theme/logo.svg`.")
    colors: dict[str, str] = _doc(
        {},
        "JSON CSS colours without the `--idp-` prefix: `primary`, `text`, `accent`, `background`.",
    )
    footer_links: list[FooterLink] | None = _doc(
        None,
        'JSON list of footer links, `[{"label": ... or {"ru": ..., "en": ...}, "url": ...}]`.',
    )


class Settings(BaseSettings):
    """idp's settings, read once from the environment."""

    model_config = SettingsConfigDict(
        env_prefix="IDP_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    issuer: str = _doc(
        "http://127.0.0.1:8000",
        "The issuer identifier, the public URL of this server; outside dev mode it must be "
        "`https://` (idp refuses to start otherwise).",
    )
    database_url: str = _doc(
        "sqlite+aiosqlite:///./var/idp.db",
        "The database: the embedded SQLite file, or `postgresql+asyncpg://user:pass@host/db` "
        "in production.",
    )
    database_pool_size: int = _doc(10, "Connections per process (PostgreSQL).")
    var_dir: Path = _doc(
        Path("./var"),
        "Where the generated key-encryption key file (`kek`) is kept when "
        "`IDP_KEY_ENCRYPTION_KEY` is not set; outside dev mode it must be on another volume "
        "than the SQLite database.",
    )
    key_encryption_key: str | None = _doc(
        None,
        "32 random bytes, base64url: seals signing keys and derives the personal-data keys. "
        "Required on PostgreSQL outside dev mode; else generated into `IDP_VAR_DIR/kek`. Keep "
        "it outside the database and its backups.",
    )
    dev_mode: bool = _doc(
        False,
        "Development conveniences (`make run` turns it on): the dev mailbox, `/api/docs`, "
        "messages kept in the database, and none of the start-up refusals below.",
    )
    default_id_token_alg: Literal["ES256", "RS256", "EdDSA"] = _doc(
        "ES256", "The ID token signing algorithm of a client that names none."
    )
    password_policy: PasswordPolicyName = _doc(
        "portal",
        "`portal` (8+ characters, Latin upper and lower case, digits) or `nist` (NIST SP "
        "800-63B rev. 4: 15+ characters, no composition rules).",
    )
    tokens: TokenSettings = TokenSettings()
    sessions: SessionSettings = SessionSettings()
    console: ConsoleSettings = ConsoleSettings()
    throttle: ThrottleSettings = ThrottleSettings()
    logout: LogoutSettings = LogoutSettings()
    notify: NotifySettings = NotifySettings()
    jobs: JobsSettings = JobsSettings()
    verification: VerificationSettings = VerificationSettings()
    registries: RegistriesSettings = RegistriesSettings()
    signatures: SignaturesSettings = SignaturesSettings()
    argon2: Argon2Settings = Argon2Settings()
    housekeeping: HousekeepingSettings = HousekeepingSettings()
    account_deletion_grace: int = _doc(
        30 * 86400,
        "Seconds between `idp accounts delete` and housekeeping purging the account; until then "
        "`idp accounts enable` undoes it and the person cannot log in.",
        ge=0,
    )
    client_cache_ttl: float = _doc(
        30.0, "Seconds a process keeps a relying party's registration before re-reading it."
    )
    client_cache_recheck: float = _doc(
        1.0,
        "How often each instance asks whether any client changed: the most an update, deletion "
        "or new secret takes to reach every instance.",
        gt=0,
    )
    key_cache_ttl: float = _doc(
        30.0,
        "Seconds a process keeps the signing key set before re-reading it (opened keys are "
        "kept by `kid`).",
        gt=0,
    )
    jwks_max_age: int = _doc(
        60,
        "The `Cache-Control: max-age` of `/jwks`: how long relying parties may keep the key set.",
        ge=0,
    )
    metrics_token: str | None = _doc(
        None,
        "Bearer token a Prometheus scraper sends to `/metrics` (16+ characters); unset, "
        "`/metrics` is 404. The counters hold no personal data, but tell how close a budget is.",
        min_length=16,
    )
    key_activation_delay: int = _doc(
        120,
        "Seconds a rotated-in key is published before it signs; must exceed "
        "`IDP_JWKS_MAX_AGE` + `IDP_KEY_CACHE_TTL` or idp refuses to start.",
        ge=0,
    )
    max_param_length: int = _doc(2048, "Longest request parameter accepted, in characters.")
    trusted_proxies: list[IPvAnyNetwork] = _doc(
        [],
        'JSON list of the CIDRs of your reverse proxies, e.g. `["10.0.0.0/8"]`; their '
        "`X-Forwarded-For` entries are believed. Empty: the peer address is the client's.",
    )
    cors_origins: list[str] = _doc(
        [],
        "JSON list of exact front-end origins (`scheme://host[:port]`) allowed to call "
        "`/api/` from a browser, with credentials; no wildcard.",
    )
    first_party_clients: list[str] = _doc(
        [],
        "JSON list of client ids whose Bearer access tokens may call the person's own "
        "`/api/v1/me` endpoints.",
    )
    theme_dir: Path | None = _doc(
        None,
        "A directory with `theme.json` and the files it refers to, served at `/theme/...` "
        "(docs/operations.md, Pages).",
    )
    brand: BrandSettings = BrandSettings()
    support_contact: str | None = _doc(
        None, "A URL or an e-mail address shown on every error page (and the notice page)."
    )
    privacy_notice_url: str = _doc(
        "/privacy",
        "The operator's notice on the processing of personal data (152-FZ) that registration "
        "links to; the bundled `/privacy` is a generic text: publish your own.",
    )
    privacy_notice_version: str = _doc(
        "1",
        "The notice version recorded with each consent; change it when the notice changes.",
        min_length=1,
        max_length=64,
    )

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

    @model_validator(mode="after")
    def _registries_default_to_the_simulator(self) -> Settings:
        # Dev mode with the simulator served and no gateway named: the http verifier asks the
        # simulator this server mounts (REGISTRY_SIMULATOR_PATH), so `make run` needs nothing.
        if self.dev_mode and self.serves_registry_simulator and not self.registries.http.base_url:
            http = self.registries.http.model_copy(
                update={"base_url": self.issuer + REGISTRY_SIMULATOR_PATH}
            )
            registries = self.registries.model_copy(update={"http": http})
            object.__setattr__(self, "registries", registries)  # frozen, and still being built
        return self

    @property
    def runs_dev_ca(self) -> bool:
        """Whether the development CA is created, trusted and served: as set, else in dev mode
        only (start-up refuses it outside dev mode: its key sits in a file and signs anyone)."""
        chosen = self.signatures.dev_ca
        return self.dev_mode if chosen is None else chosen

    @property
    def serves_registry_simulator(self) -> bool:
        """Whether the app mounts the registry simulator: as set, else in dev mode only."""
        served = self.registries.serve_simulator
        return self.dev_mode if served is None else served

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
        registries = self.registries
        for name, value in (
            ("ANSWER_WAIT_MAX", registries.answer_wait_max),
            ("BACKOFF_MAX", registries.backoff_max),
        ):
            # A registry check's tries are capped at the end of its retry period: a longer
            # pause would pass it, and the job's deadline with it, leaving the check open.
            if value >= registries.retry_period:
                raise ConfigurationError(
                    f"IDP_REGISTRIES__{name} ({value:g} s) must be below "
                    f"IDP_REGISTRIES__RETRY_PERIOD ({registries.retry_period} s)"
                )

    def notifier_name(self, channel: Literal["email", "sms"]) -> str:
        """The notifier chosen for ``channel``; ``auto`` is the dev sink in dev mode."""
        chosen = self.notify.email_backend if channel == "email" else self.notify.sms_backend
        if chosen == "auto":
            return "dev" if self.dev_mode else _PRODUCTION_NOTIFIERS[channel]
        return chosen

    @property
    def loopback_port(self) -> int | None:
        """The port of an issuer on this machine (``http://127.0.0.1:8000``): where ``idp
        serve`` listens unless told otherwise. None for an issuer elsewhere."""
        parts = urlsplit(self.issuer)
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            return None
        try:
            return parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return None

    @property
    def secure_cookies(self) -> bool:
        return self.issuer.startswith("https://")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
