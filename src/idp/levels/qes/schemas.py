"""The REST API's contract for confirming an account with a qualified e-signature."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# Every request body stops at 64 KiB (``idp.http.headers.BodyLimit``: 413 past it), so one
# field alone stays under that and is refused as a field (422) when too long. A CAdES-BES
# signature with its chain is a few KiB; ``signatures.max_signature_bytes`` is checked on the
# decoded bytes.
MAX_SIGNATURE_TEXT = 60 * 1024
MAX_CERTIFICATE_TEXT = 12 * 1024


class ChallengeOut(BaseModel):
    id: uuid.UUID
    content: str = Field(description="The exact text to sign (UTF-8), no personal data in it")
    content_base64: str = Field(description="The same bytes in base64, for a signing plug-in")
    expires_at: datetime


class ConfirmationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    challenge_id: uuid.UUID
    signature: Annotated[str, StringConstraints(min_length=1, max_length=MAX_SIGNATURE_TEXT)] = (
        Field(
            description="A detached CMS (PKCS #7) SignedData over the challenge's bytes: base64 "
            "of the DER, or PEM"
        )
    )
    certificates: list[
        Annotated[str, StringConstraints(min_length=1, max_length=MAX_CERTIFICATE_TEXT)]
    ] = Field(
        default_factory=list,
        max_length=8,
        description="Base64 DER certificates (the signer's and its CAs') when the CMS "
        "does not carry them",
    )


class ConfirmationOut(BaseModel):
    level: str = Field(description="confirmed")
    confirmation_method: str = Field(description="qes")
    certificate_fingerprint: str | None = Field(
        description="SHA-256 of the signer's certificate, hex"
    )


class DevSignatureBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    challenge_id: uuid.UUID


class DevSignatureOut(BaseModel):
    signature: str = Field(description="Base64 of the DER CMS, made with a development certificate")
