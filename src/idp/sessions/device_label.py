"""What the session list shows of a browser: its family and system, not its fingerprint.

A full User-Agent string is close to a fingerprint (versions, build numbers, device models), so
a session keeps only "Firefox on Windows": enough for a person to recognise their own device in
the list of sessions and end the one they do not know.
"""

from __future__ import annotations

import re

# Order matters: Edge, Opera and Yandex Browser also say "Chrome", and Chrome also says "Safari".
_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("YaBrowser/", "Yandex Browser"),
    ("Firefox/", "Firefox"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("CriOS/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)
_PRODUCT = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,31}")


def device_label(user_agent: str | None) -> str | None:
    if not user_agent:
        return None
    browser = next((name for token, name in _BROWSERS if token in user_agent), None)
    system = next((name for token, name in _SYSTEMS if token in user_agent), None)
    if browser and system:
        return f"{browser} on {system}"
    if browser or system:
        return browser or system
    # A program rather than a browser (curl, an app): its product name, never its version.
    product = _PRODUCT.match(user_agent)
    return product.group(0) if product else None
