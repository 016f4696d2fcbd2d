"""minimal addresses and devices

Sessions and the audit log keep a client's network, not its address, and a session keeps the
browser family and system, not the full User-Agent. Rows written before this revision are
reduced the same way (the rule is repeated here, not imported, so this file stays as it was
when later code changes).

Revision ID: 3d9e6b1a7c52
Revises: 5b7e2a91c4d3
Create Date: 2026-12-02 00:40:00.000000
"""

from __future__ import annotations

import ipaddress

import sqlalchemy as sa
from alembic import op

revision = "3d9e6b1a7c52"
down_revision = "5b7e2a91c4d3"
branch_labels = None
depends_on = None


def _network(value: str | None) -> str | None:
    if not value:
        return None
    try:
        address = ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


def _reduce_addresses(name: str) -> None:
    table = sa.table(name, sa.column("ip", sa.String))
    connection = op.get_bind()
    seen = connection.execute(sa.select(table.c.ip).where(table.c.ip.is_not(None)).distinct())
    for (ip,) in seen.fetchall():
        connection.execute(
            sa.update(table).where(table.c.ip == ip).values(ip=_network(ip)),
        )


def upgrade() -> None:
    _reduce_addresses("browser_sessions")
    _reduce_addresses("audit_events")
    # A full User-Agent cannot be reduced reliably after the fact; old sessions show no device.
    sessions = sa.table("browser_sessions", sa.column("user_agent", sa.String))
    op.execute(sa.update(sessions).values(user_agent=None))


def downgrade() -> None:
    # What was reduced is gone; nothing to restore.
    pass
