"""One error tree for the whole service.

Routes raise; the handlers in ``idp.http.errors`` render by the kind of the route that was hit
(``idp.http.routing``): RFC 6749 JSON on protocol routes, RFC 9457 problem+json on the REST
API, an HTML page on pages. Every error can be rendered in all three: ``OAuthError`` names its
RFC code, ``ProblemError`` its problem type, ``page_key`` the page text. Only errors below 500
show their description to the caller.

Errors of one domain live in that domain's ``errors.py`` (``idp.accounts.errors``,
``idp.assurance.errors``), under this tree.
"""

from __future__ import annotations

from typing import Any, ClassVar


class IdpError(Exception):
    status_code: int = 400
    expose: ClassVar[bool] = True
    # The page text (a key of web/locales) shown instead of ``description`` on a page.
    page_key: str | None = None

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


# --- The authorization endpoint: a page before the redirect URI is trusted, a redirect after --


class UntrustedRedirect(IdpError):
    """The client or redirect_uri could not be verified (RFC 6749 §4.1.2.1)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error


class ErrorForClient(IdpError):
    """An error to send back to a trusted redirect URI (RFC 6749 §4.1.2.1), with ``state`` and
    ``iss``: rendered as that redirect on every route."""

    def __init__(self, error: OAuthError, redirect_uri: str, state: str | None) -> None:
        super().__init__(error.description)
        self.error = error
        self.redirect_uri = redirect_uri
        self.state = state


# --- Errors only a page shows ------------------------------------------------------------------


class PageError(IdpError):
    """A page that cannot go on: ``page_key`` is its text, ``code`` the hint under it, and
    ``locale`` the page's language when the request alone does not tell it (``ui_locales``)."""

    def __init__(
        self,
        page_key: str,
        code: str,
        status_code: int = 400,
        *,
        locale: str | None = None,
        **values: object,
    ) -> None:
        super().__init__()  # its text is the page's, in the page's language
        self.page_key = page_key
        self.code = code
        self.status_code = status_code
        self.locale = locale
        self.values = values


# --- Problems (RFC 9457) shared by every domain ------------------------------------------------


class ProblemError(IdpError):
    """An RFC 9457 problem; ``type_slug`` becomes a stable ``type`` URI."""

    type_slug: ClassVar[str] = "about:blank"
    title: str = "Bad request"

    def __init__(self, description: str = "", **extra: Any) -> None:
        super().__init__(description)
        self.extra = extra


class ValidationFailed(ProblemError):
    status_code = 422
    type_slug = "validation-failed"
    title = "The request has invalid fields"
    page_key = "error_invalid_input"


class NotFound(ProblemError):
    status_code = 404
    type_slug = "not-found"
    title = "Not found"
    page_key = "error_not_found"


class MethodNotAllowed(ProblemError):
    status_code = 405
    type_slug = "method-not-allowed"
    title = "Method not allowed"
    page_key = "error_method_not_allowed"

    def __init__(self, allow: str, description: str = "") -> None:
        super().__init__(description)
        self.allow = allow  # RFC 9110 §15.5.6: a 405 MUST list the allowed methods


class ContentTooLarge(ProblemError):
    status_code = 413
    type_slug = "content-too-large"
    title = "The request body is too large"
    page_key = "error_too_large"


class HttpProblem(ProblemError):
    """Any other HTTP status the framework answers by itself (RFC 9457 §4.2.1 ``about:blank``)."""

    def __init__(self, status_code: int, title: str) -> None:
        super().__init__()
        self.status_code = status_code
        self.title = title


class UnexpectedError(ProblemError):
    """What every unexpected exception is answered as; its details stay in the log."""

    status_code = 500
    type_slug = "server-error"
    title = "Internal server error"
    page_key = "error_generic"
    expose = False


class Conflict(ProblemError):
    status_code = 409
    type_slug = "conflict"
    title = "Conflict"


class ServerBusy(OAuthError, ProblemError):
    """Too much work queued (password hashing): refused at once rather than queued without
    limit. RFC 6749 §4.1.2.1 ``temporarily_unavailable`` on protocol routes, a problem on the
    API, a page on pages; always with Retry-After (RFC 9110 §15.6.4)."""

    error = "temporarily_unavailable"
    status_code = 503
    type_slug = "server-busy"
    title = "The server is busy; try again shortly"
    page_key = "error_server_busy"
    expose = False

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = retry_after


class CsrfFailed(ProblemError):
    status_code = 403
    type_slug = "csrf-failed"
    title = "The form has expired or was not sent by this site"
    page_key = "csrf_failed"


class BadInput(ValueError):
    """Raised by operator-facing code (CLI) for input it refuses; nothing was written."""


class WrongState(BadInput):
    """Operator input that is well formed but meets the thing in another state (an account
    disabled already); nothing was written. The CLI exits 3 for it."""
