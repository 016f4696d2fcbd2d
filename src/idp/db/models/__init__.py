"""All tables. Imported together so Alembic and ``create_all`` see the whole schema."""

from idp.db.models.accounts import Account, Contact
from idp.db.models.audit import AuditEvent
from idp.db.models.caches import CacheGeneration
from idp.db.models.clients import Client
from idp.db.models.grants import (
    AuthorizationCode,
    ClientAssertionJti,
    Consent,
    Grant,
    RefreshToken,
    RevokedAccessToken,
)
from idp.db.models.jobs import QueuedJob
from idp.db.models.keys import SigningKey
from idp.db.models.levels import LevelChange, PersonalData, RegistryCheck
from idp.db.models.notifications import DevMessage, SendCounter
from idp.db.models.password_resets import PasswordReset
from idp.db.models.registration import Registration, Verification
from idp.db.models.sessions import BrowserSession, Interaction, SessionClient
from idp.db.models.signatures import SignatureChallenge, TrustAnchor
from idp.db.models.throttle import ThrottleCounter

__all__ = [
    "Account",
    "AuditEvent",
    "AuthorizationCode",
    "BrowserSession",
    "CacheGeneration",
    "Client",
    "ClientAssertionJti",
    "Consent",
    "Contact",
    "DevMessage",
    "Grant",
    "Interaction",
    "LevelChange",
    "PasswordReset",
    "PersonalData",
    "QueuedJob",
    "RefreshToken",
    "Registration",
    "RegistryCheck",
    "RevokedAccessToken",
    "SendCounter",
    "SessionClient",
    "SignatureChallenge",
    "SigningKey",
    "ThrottleCounter",
    "TrustAnchor",
    "Verification",
]
