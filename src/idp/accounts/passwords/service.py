"""The password change as one use case, for every caller that offers it (``POST
/api/v1/me/password`` and the console's password page): the transactions of
``idp.accounts.passwords.change`` opened in their order, so the two cannot drift apart.

Unlike the steps it runs, this opens its own transactions (see "The unit of work" in
docs/architecture.md): argon2 must run with none open."""

from __future__ import annotations

import uuid

from idp.accounts import throttle
from idp.accounts.passwords import change as password_change
from idp.context import Context
from idp.errors import Conflict
from idp.sessions.service import Ended


async def change_password(
    ctx: Context,
    account_id: uuid.UUID,
    *,
    old_password: str,
    new_password: str,
    new_password_repeat: str,
    keep_session: uuid.UUID | None,
    locale: str,
    ip: str | None,
    client_id: str | None,
) -> Ended:
    """Change the password: ``ValidationFailed`` (the new one), ``TooManyAttempts``,
    ``WrongPassword`` (recorded and counted), ``Conflict`` (changed meanwhile); on success the
    other sessions are ended with their back-channel jobs claimed for the caller to run."""
    now = ctx.clock.now()
    async with ctx.db.read() as session:
        verified_hash = await password_change.check_new_password(
            session, ctx, account_id, new_password, new_password_repeat
        )
    async with ctx.db.transaction() as session:
        reservation = await password_change.reserve_attempt(session, ctx, account_id, now)
    try:  # outside any transaction: no writer lock held while argon2 runs
        verified = await password_change.verify_and_hash(
            ctx, verified_hash, old_password, new_password
        )
    except BaseException:
        async with ctx.db.transaction() as session:
            await throttle.release(session, reservation)
        raise
    if not verified.right:
        async with ctx.db.transaction() as session:  # the failure is recorded on its own
            wrong = password_change.record_wrong_password(
                session, now, account_id, client_id=client_id, ip=ip
            )
        raise wrong
    if verified.new_hash is None:
        async with ctx.db.transaction() as session:
            await throttle.settle(session, reservation, succeeded=True)
        raise password_change.same_password()
    try:
        async with ctx.db.transaction() as session:
            return await password_change.set_password(
                session,
                ctx,
                account_id,
                verified_hash=verified_hash,
                new_hash=verified.new_hash,
                reservation=reservation,
                now=now,
                keep_session=keep_session,
                locale=locale,
                ip=ip,
                client_id=client_id,
            )
    except Conflict:
        # Changed meanwhile. A double submit (or a retry) of this very change finds its own
        # new password in place: that is done, not a conflict (the old password was right).
        if not await _is_current(ctx, account_id, new_password):
            raise
        async with ctx.db.transaction() as session:
            await throttle.settle(session, reservation, succeeded=True)
        return Ended()


async def _is_current(ctx: Context, account_id: uuid.UUID, password: str) -> bool:
    async with ctx.db.read() as session:
        current = await password_change.current_hash(session, account_id)
    return current is not None and await ctx.passwords.verify(current, password)
