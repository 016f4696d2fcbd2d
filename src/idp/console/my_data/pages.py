"""``/account/personal-data``, "My data": the person enters the data the standard level needs
and follows the registry checks run on it.

The progress is shown to any live session. The data itself, and changing it, needs a recent
login, as the password and contacts do: an older one sees a link to ``/account/reauth``
instead of the form, and a post is sent there first. The form posts to the page itself with a CSRF
token: a refused field is shown beside the field with the values kept and nothing written; a
save answers 303 with ``?done=``. While checks are open, ``/static/my_data.js`` fetches the page
now and then and swaps in the new progress section, for ten minutes after the page loaded (each
fetch is activity: a page left open must not keep the session alive), then it says so and
leaves the "Refresh" link; without it the page offers that link from the start.
"""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from idp.console.my_data import view
from idp.console.page_kit import (
    CSRF_PURPOSE,
    console_page,
    done,
    fresh,
    login_url,
    needs_reauth,
    reauth_url,
    signed_in,
)
from idp.context import Context
from idp.http.deps import Ctx, client_ip
from idp.http.routing import PageRouter
from idp.levels.personal_data import service as personal_data
from idp.levels.personal_data.errors import SnilsTaken, TooManyChanges
from idp.levels.personal_data.validation import check
from idp.levels.verification.rounds import REGISTRY_CHECK
from idp.sessions.service import LiveSession
from idp.web.forms import POLICY, checked_form, first_invalid, locale_of, redirect
from idp.web.i18n import Translator

router = PageRouter()

PATH = "/account/personal-data"
# The page runs /static/my_data.js, which fetches the page itself (and nothing inline).
MY_DATA_POLICY = POLICY.replace(
    "default-src 'none';", "default-src 'none'; script-src 'self'; connect-src 'self';"
)
REFRESH_EVERY = 3  # seconds before the script's first look (it then looks less often)
# Seconds after the page loaded when the script stops looking: each look is activity, and a
# page left open must not keep its session alive past the idle timeout.
REFRESH_FOR = 600
_DONE = {"saved", "unchanged", "saved_unchecked", "asked_again"}


async def _page(
    request: Request,
    ctx: Context,
    live: LiveSession,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    form_error: str | None = None,
    status: int = 200,
    locked: bool = False,
) -> Response:
    t = Translator(locale_of(request))
    account = live.account
    async with ctx.db.read() as session:
        stored = None if locked else await personal_data.load(session, account.id)
        progress = await personal_data.progress(session, account.id)
        changes = await personal_data.level_history(session, account.id)
    if locked:
        values = {}
    elif values is None:
        names = (account.last_name, account.first_name, account.middle_name)
        values = view.stored_values(stored.data if stored else None, names)
    what = request.query_params.get("done")
    notice = t(f"my_data_done_{what}") if what in _DONE and not (errors or form_error) else None
    response = console_page(
        request,
        ctx,
        "my_data.html",
        t.locale,
        section="my_data",
        live=live,
        status=status,
        values=values,
        errors=errors or {},
        form_error=form_error,
        focus=first_invalid(errors, "last_name") if errors or form_error else None,
        countries=view.countries(t),
        document_kinds=view.document_kinds(t),
        progress=view.progress_view(
            t,
            level=progress.level,
            has_data=progress.revision is not None,
            none_because=progress.none_because,
            checks=progress.checks,
            history=changes,
        ),
        refresh_every=REFRESH_EVERY,
        refresh_for=REFRESH_FOR,
        locked=locked,
        reauth=reauth_url(PATH),
        notice=notice,
    )
    response.headers["Content-Security-Policy"] = MY_DATA_POLICY
    return response


@router.get(PATH)
async def show_my_data(request: Request, ctx: Ctx) -> Response:
    """The progress for any live session; the data itself only after a recent login (an
    older one sees a link to the re-authentication instead of the form)."""
    live = await signed_in(request, ctx)
    if live is None:
        return redirect(login_url(PATH))
    return await _page(request, ctx, live, locked=needs_reauth(ctx, live))


@router.post(PATH)
async def save_my_data(request: Request, ctx: Ctx) -> Response:
    locale = locale_of(request)
    form = await checked_form(request, ctx, CSRF_PURPOSE, locale)
    live = await fresh(request, ctx, PATH)
    if isinstance(live, Response):
        return live
    t = Translator(locale)
    values = view.posted_values(form)
    now = ctx.clock.now()
    data, problems = check(values, today=now.date())
    if data is None:
        errors = view.field_errors(t, (problem.as_dict() for problem in problems))
        return await _page(request, ctx, live, values=values, errors=errors, status=422)
    try:
        async with ctx.db.transaction() as session:
            saved = await personal_data.save(
                session, ctx, live.account.id, data, at=now, ip=client_ip(request), locale=locale
            )
    except SnilsTaken:
        errors = {"snils": t("my_data_err_snils_taken")}
        return await _page(request, ctx, live, values=values, errors=errors, status=409)
    except TooManyChanges as exc:
        message = t("my_data_err_too_many_changes")
        page = await _page(request, ctx, live, values=values, form_error=message, status=429)
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    if saved.jobs:
        request.app.state.jobs.wake(REGISTRY_CHECK)
    if not saved.changed:
        return done(PATH, "asked_again" if saved.jobs else "unchanged")
    return done(PATH, "saved" if saved.jobs else "saved_unchecked")
