"""The submitted signature and certificates, decoded before anything is touched.

Any logged-in account may post up to 60 KiB of text here, before a challenge is claimed or
anything counted, so the decoding is linear in the text: ``str.find`` for the PEM markers and
one ``fullmatch`` of a character class, no pattern that searches with a lazy ``.*?`` (one of
those took seconds on a body of repeated ``-----BEGIN A-----``, with the event loop held).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass

from idp.levels.qes.errors import BadSignatureInput

MAX_CERTIFICATES = 8

_BEGIN = "-----BEGIN "
_END = "-----END "
_DASHES = "-----"
_LABEL = re.compile(r"[A-Z0-9 #]{1,64}")
# A PEM body is standard base64 (RFC 7468); bare text may be URL-safe too.
_PEM_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")


@dataclass(frozen=True, slots=True)
class Submission:
    """A signature as submitted, decoded: DER CMS and the certificates sent beside it."""

    signature: bytes
    certificates: tuple[bytes, ...]


def _pem_body(text: str, begin: int) -> str | None:
    """The body of the PEM block whose ``-----BEGIN`` is at ``begin``, up to the first
    ``-----END`` after it, which must name the same label; None when it is not one."""
    label_start = begin + len(_BEGIN)
    label_end = text.find(_DASHES, label_start)
    if label_end < 0:
        return None
    label = text[label_start:label_end]
    if not _LABEL.fullmatch(label):
        return None
    body_start = label_end + len(_DASHES)
    end = text.find(_END, body_start)
    if end < 0 or not text.startswith(f"{label}{_DASHES}", end + len(_END)):
        return None
    return text[body_start:end]


def _base64(text: str, alphabet: re.Pattern[str]) -> bytes | None:
    compact = "".join(text.split())
    if not compact or not alphabet.fullmatch(compact):
        return None
    compact = compact.replace("-", "+").replace("_", "/")
    compact += "=" * (-len(compact) % 4)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None


def _der(text: str) -> bytes | None:
    """Base64 (standard or URL-safe, whitespace ignored) or the first PEM block (text around
    it ignored, as ``openssl`` prints it), decoded; None for anything else or bytes that are
    not a DER SEQUENCE."""
    begin = text.find(_BEGIN)
    if begin < 0:
        data = _base64(text, _BASE64)
    else:
        body = _pem_body(text, begin)
        data = None if body is None else _base64(body, _PEM_BASE64)
    if not data or data[0] != 0x30:
        return None
    return data


def decode_submission(signature: str, certificates: Sequence[str], *, max_bytes: int) -> Submission:
    """The signature and certificates as bytes; ``BadSignatureInput`` (nothing touched) for
    text that is not base64 or PEM of a DER structure, too many certificates, or more than
    ``max_bytes`` in all."""
    decoded = _der(signature)
    if decoded is None:
        raise BadSignatureInput("signature", "Not a base64 or PEM CMS signature.")
    if len(certificates) > MAX_CERTIFICATES:
        raise BadSignatureInput("certificates", f"At most {MAX_CERTIFICATES} certificates.")
    certs = []
    for index, text in enumerate(certificates):
        cert = _der(text)
        if cert is None:
            raise BadSignatureInput(f"certificates.{index}", "Not a base64 DER certificate.")
        certs.append(cert)
    if len(decoded) + sum(len(c) for c in certs) > max_bytes:
        raise BadSignatureInput("signature", f"Larger than {max_bytes} bytes in all.")
    return Submission(decoded, tuple(certs))
