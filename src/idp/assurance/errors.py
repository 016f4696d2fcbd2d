"""What a client's level policy refuses (OIDC Core §3.1.2.6 ``unmet_authentication_requirements``
on the protocol side; these are the REST API's problems for the same facts)."""

from __future__ import annotations

from idp.errors import ProblemError


class LevelNotMet(ProblemError):
    status_code = 403
    type_slug = "level-not-met"
    title = "The account's assurance level is not enough"


class ConfirmationMethodRefused(ProblemError):
    status_code = 403
    type_slug = "confirmation-method-refused"
    title = "The client does not accept this confirmation method"
