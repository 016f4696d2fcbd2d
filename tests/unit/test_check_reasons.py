"""Every registry-check reason code, state and kind has its texts in both languages (the pages,
the REST API and the notices read them from idp/web/locales/<lang>/checks.json)."""

from __future__ import annotations

import pytest

from idp.levels.verification import reasons
from idp.levels.verification.rounds import FINAL_STATES, OPEN_STATES
from idp.levels.verifiers.protocol import CheckKind, Verdict
from idp.web.i18n import LOCALES, catalog


@pytest.mark.parametrize("locale", LOCALES)
def test_every_reason_state_and_kind_has_texts(locale: str) -> None:
    texts = catalog(locale)
    wanted = [
        f"reason.{code}.{part}" for code in reasons.ALL_REASONS for part in ("title", "advice")
    ]
    wanted += [f"state.{state}" for state in (*OPEN_STATES, *FINAL_STATES)]
    wanted += [f"kind.{kind.value}" for kind in CheckKind]
    missing = [key for key in wanted if not texts.get(key, "").strip()]
    assert missing == []


def test_no_stray_reason_texts() -> None:
    codes = {key.split(".")[1] for key in catalog("en") if key.startswith("reason.")}
    assert codes == set(reasons.ALL_REASONS)


def test_every_settled_verdict_has_a_reason_per_kind() -> None:
    for kind in CheckKind:
        assert reasons.for_verdict(kind, Verdict.MATCH) is None
        for verdict in set(Verdict) - {Verdict.MATCH, Verdict.PENDING}:
            assert reasons.for_verdict(kind, verdict) in reasons.FINAL_REASONS
    with pytest.raises(ValueError, match="no reason"):
        reasons.for_verdict(CheckKind.PERSON, Verdict.PENDING)
