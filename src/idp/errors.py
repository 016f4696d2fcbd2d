"""One error tree for the whole service.

Protocol routes render an ``OAuthError`` as RFC 6749 JSON (or as a redirect once the redirect
URI is trusted); REST routes render ``ProblemError`` as RFC 9457 problem+json; pages render an
HTML page. Only errors below 500 show their description to the caller.
"""

from __future__ import annotations

from typing import Any, ClassVar


class IdpError(Exception):
    status_code: ClassVar[int] = 400
    expose: ClassVar[bool] = True

    def __init__(self, description: str = "") -> None:
        super().__init__(description)
        self.description = description


# --- RFC 6749 §5.2 / §4.1.2.1, OIDC Core §3.1.2.6, RFC 6750 §3.1 -------------------------------


class OAuthError(IdpError):
    error: ClassVar[str] = "server_error"


class InvalidRequest(OAuthError):
    error = "invalid_request"


class InvalidClient(OAuthError):
    error = "invalid_client"
    status_code = 401


class InvalidGrant(OAuthError):
    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"


class UnsupportedResponseType(OAuthError):
    error = "unsupported_response_type"


class InvalidScope(OAuthError):
    error = "invalid_scope"


class AccessDenied(OAuthError):
    error = "access_denied"


class UnsupportedTokenType(OAuthError):
    error = "unsupported_token_type"  # RFC 7009 §2.2.1


class LoginRequired(OAuthError):
    error = "login_required"


class ConsentRequired(OAuthError):
    error = "consent_required"


class InteractionRequired(OAuthError):
    error = "interaction_required"


class RequestNotSupported(OAuthError):
    error = "request_not_supported"


class RequestUriNotSupported(OAuthError):
    error = "request_uri_not_supported"


class UnmetAuthenticationRequirements(OAuthError):
    """OpenID Connect Core Unmet Authentication Requirements 1.0."""

    error = "unmet_authentication_requirements"


class InvalidToken(OAuthError):
    error = "invalid_token"
    status_code = 401


class InsufficientScope(OAuthError):
    error = "insufficient_scope"
    status_code = 403


# --- Errors before the redirect URI is trusted: shown as a page, never redirected -------------


class UntrustedRedirect(IdpError):
    """The client or redirect_uri could not be verified (RFC 6749 §4.1.2.1)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error


# --- Domain facts -------------------------------------------------------------------------------


class ProblemError(IdpError):
    """An RFC 9457 problem; ``type_slug`` becomes a stable ``type`` URI."""

    type_slug: ClassVar[str] = "about:blank"
    title: ClassVar[str] = "Bad request"

    def __init__(self, description: str = "", **extra: Any) -> None:
        super().__init__(description)
        self.extra = extra


class ValidationFailed(ProblemError):
    status_code = 422
    type_slug = "validation-failed"
    title = "The request has invalid fields"


class NotFound(ProblemError):
    status_code = 404
    type_slug = "not-found"
    title = "Not found"


class Conflict(ProblemError):
    status_code = 409
    type_slug = "conflict"
    title = "Conflict"


class TooManyAttempts(ProblemError):
    status_code = 429
    type_slug = "too-many-attempts"
    title = "Too many attempts"

    def __init__(self, retry_after: int, description: str = "") -> None:
        super().__init__(description or f"Try again in {retry_after} seconds.")
        self.retry_after = retry_after


class InvalidCredentials(ProblemError):
    status_code = 401
    type_slug = "invalid-credentials"
    title = "Wrong login or password"


class CsrfFailed(ProblemError):
    status_code = 403
    type_slug = "csrf-failed"
    title = "The form has expired or was not sent by this site"


class LevelNotMet(ProblemError):
    status_code = 403
    type_slug = "level-not-met"
    title = "The account's assurance level is not enough"


class ConfirmationMethodRefused(ProblemError):
    status_code = 403
    type_slug = "confirmation-method-refused"
    title = "The client does not accept this confirmation method"


class BadInput(ValueError):
    """Raised by operator-facing code (CLI) for input it refuses; nothing was written."""
