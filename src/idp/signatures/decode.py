"""The signature as a browser plug-in hands it over: base64 (line breaks and spaces allowed),
PEM (``-----BEGIN PKCS7-----`` or ``-----BEGIN CMS-----``, RFC 7468 §8/§9) or raw DER."""

from __future__ import annotations

import base64
import binascii
import re

_PEM = re.compile(
    rb"-----BEGIN (PKCS7|CMS)-----(?P<body>[A-Za-z0-9+/=\s]*)-----END (PKCS7|CMS)-----"
)
_WHITESPACE = re.compile(rb"\s+")
_BASE64 = re.compile(rb"[A-Za-z0-9+/]+={0,2}")


class Undecodable(ValueError):
    """Not base64, PEM or DER, or too big. The message names what, never the bytes."""


def decode_signature(signature: bytes | str, max_bytes: int) -> bytes:
    """The DER bytes of the signature. Raises :class:`Undecodable`."""
    if isinstance(signature, str):
        try:
            raw = signature.encode("ascii")
        except UnicodeEncodeError:
            raise Undecodable("text that is not ASCII") from None
    else:
        raw = bytes(signature)
    # Base64 is 4/3 of the DER and PEM adds its lines: bound the text before any work.
    if len(raw) > max_bytes * 4 // 3 + 1024:
        raise Undecodable("too big")
    der = raw if raw[:1] == b"\x30" else _from_text(raw.strip())  # DER starts with a SEQUENCE
    if not der:
        raise Undecodable("empty")
    if len(der) > max_bytes:
        raise Undecodable("too big")
    if der[:1] != b"\x30":
        raise Undecodable("not a DER SEQUENCE")
    return der


def _from_text(text: bytes) -> bytes:
    if text.startswith(b"-----BEGIN"):
        found = _PEM.fullmatch(text)
        if found is None:
            raise Undecodable("PEM that is not PKCS7 or CMS")
        text = found["body"]
    compact = _WHITESPACE.sub(b"", text)
    if not _BASE64.fullmatch(compact) or len(compact) % 4:
        raise Undecodable("not base64")
    try:
        return base64.b64decode(compact, validate=True)
    except binascii.Error:
        raise Undecodable("not base64") from None
