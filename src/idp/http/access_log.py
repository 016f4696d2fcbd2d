"""The server's access log without personal data or secrets.

Query strings carry one-time secrets (`/confirm-email?token=…`, `/authorize?login_hint=…`) and the
client's address is personal data, so uvicorn's access lines keep only the path and a truncated
address (an IPv4 /24 or an IPv6 /48): enough to see a flood's source network, not a person.
"""

from __future__ import annotations

import logging

from idp.security.network import truncated_address

ACCESS_LOGGER = "uvicorn.access"


class AccessLogScrubber(logging.Filter):
    """Rewrites uvicorn's access record: (client, method, path, http version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            client, method, path, version, status = args
            record.args = (
                truncated_address(str(client)) or "-",
                method,
                str(path).split("?", 1)[0],
                version,
                status,
            )
        return True


def scrub_access_log() -> None:
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, AccessLogScrubber) for f in logger.filters):
        logger.addFilter(AccessLogScrubber())
