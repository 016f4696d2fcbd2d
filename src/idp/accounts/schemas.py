"""The REST API's contract for logging in, the person's own account, passwords and contacts.

Every text field refuses control characters and text that is not valid UTF-8 (see
``idp.http.json_route``: undecodable bytes arrive as lone surrogates and are refused here, with
the field's name), so nothing downstream ever sees them.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from idp.db.models import Contact


def _plain_text(value: str) -> str:
    for char in value:
        category = unicodedata.category(char)
        if category == "Cs":
            raise ValueError("must be valid UTF-8 text")
        if category == "Cc":
            raise ValueError("must not contain control characters")
    return value


Login = Annotated[
    str,
    StringConstraints(min_length=1, max_length=320),
    AfterValidator(_plain_text),
    Field(description="A confirmed phone (E.164 or 8XXXXXXXXXX), a confirmed e-mail or a SNILS"),
]
# NIST SP 800-63B-4 §3.1.1.2: at least 64 characters of any Unicode, never truncated.
Password = Annotated[
    str, StringConstraints(min_length=1, max_length=1024), AfterValidator(_plain_text)
]
NewPassword = Annotated[
    str, StringConstraints(min_length=1, max_length=256), AfterValidator(_plain_text)
]
Code = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{4,10}$"),
    AfterValidator(_plain_text),
    Field(description="The numeric code that was sent"),
]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# --- login ---------------------------------------------------------------------------------


class LoginRequest(_Input):
    login: Login
    password: Password


class AccountSummary(BaseModel):
    sub: str = Field(description="The subject identifier, as in ID tokens")
    last_name: str
    first_name: str
    middle_name: str | None
    level: str = Field(description="simplified, standard or confirmed")
    confirmation_method: str | None = Field(
        description="service_center, post or qes; only for the confirmed level"
    )


# --- me ------------------------------------------------------------------------------------


class ContactView(BaseModel):
    id: str
    kind: Literal["phone", "email"]
    value: str
    confirmed: bool
    created_at: datetime


class Me(AccountSummary):
    contacts: list[ContactView]
    snils: str | None = Field(description="Masked: ***-***-789 64")


# --- passwords -----------------------------------------------------------------------------


class PasswordChange(_Input):
    old_password: Password
    new_password: NewPassword
    new_password_repeat: NewPassword


class PasswordChanged(BaseModel):
    ended_sessions: int = Field(description="How many other sessions were ended")


class ResetRequest(_Input):
    model_config = ConfigDict(json_schema_extra={"examples": [{"login": "+79990001122"}]})

    login: Login


class ResetStarted(BaseModel):
    id: str
    token: str = Field(description="Send as X-Reset-Token when confirming")
    expires_at: datetime


class ResetConfirmation(_Input):
    code: Code
    new_password: NewPassword
    new_password_repeat: NewPassword


# --- contacts ------------------------------------------------------------------------------


class ContactAdd(_Input):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"kind": "phone", "value": "+79990003344"}]}
    )

    kind: Literal["phone", "email"]
    value: Annotated[
        str,
        StringConstraints(min_length=3, max_length=320),
        AfterValidator(_plain_text),
        Field(description="E.164 phone (+79991234567) or an e-mail address"),
    ]


class ContactAdded(ContactView):
    resend_after: int = Field(description="Seconds until a new code or link may be asked")


class ContactCode(_Input):
    code: Code


class Resent(BaseModel):
    resend_after: int


def contact_view(contact: Contact) -> ContactView:
    return ContactView(
        id=str(contact.id),
        kind="phone" if contact.kind == "phone" else "email",
        value=contact.value,
        confirmed=contact.confirmed_at is not None,
        created_at=contact.created_at,
    )
