"""The registration API's contract (pydantic models, documented in openapi.yaml)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class RegistrationRequest(BaseModel):
    # The example is a valid request: tools that follow the document's links start from it.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "last_name": "Петрова",
                    "first_name": "Анна",
                    "phone": "+79990001122",
                    "personal_data_consent": True,
                }
            ]
        },
    )

    last_name: Name
    first_name: Name
    middle_name: Annotated[str, StringConstraints(max_length=100)] | None = None
    phone: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = Field(
        default=None, description="Mobile phone, E.164 (+79991234567) or 8XXXXXXXXXX"
    )
    email: Annotated[str, StringConstraints(min_length=3, max_length=320)] | None = None
    personal_data_consent: StrictBool = Field(
        description=(
            "The person's consent to the processing of personal data (Federal Law 152-FZ, "
            "art. 9) under the operator's notice (IDP_PRIVACY_NOTICE_URL), shown to them "
            "before they agree. Must be true: without it nothing is stored (422). The notice "
            "version (IDP_PRIVACY_NOTICE_VERSION) and the time are recorded with the account."
        )
    )
    privacy_notice_version: (
        Annotated[str, StringConstraints(min_length=1, max_length=64)] | None
    ) = Field(
        default=None,
        description=(
            "The version of the notice the person was shown (GET /api/v1/privacy-notice). "
            "When given and no longer current, the answer is 409 privacy-notice-changed and "
            "nothing is stored: show the current notice and ask again."
        ),
    )


class PrivacyNotice(BaseModel):
    url: str = Field(description="The operator's notice on the processing of personal data")
    version: str = Field(description="Send it back as privacy_notice_version when registering")


class RegistrationCreated(BaseModel):
    id: str
    token: str = Field(description="Send as X-Registration-Token on the next steps")
    phone_code_sent: bool
    email_link_sent: bool
    resend_after: int | None = Field(description="Seconds until a new SMS code may be asked")
    expires_at: datetime


class RegistrationStatus(BaseModel):
    id: str
    phone_confirmed: bool
    email_confirmed: bool
    resend_after: int | None
    expires_at: datetime


class PhoneCode(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, StringConstraints(pattern=r"^[0-9]{4,10}$")]


class ResendResult(BaseModel):
    resend_after: int


class PasswordChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    password_repeat: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class RegisteredAccount(BaseModel):
    sub: str
    level: str


class EmailConfirmation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: Annotated[str, StringConstraints(min_length=16, max_length=128)]
