"""Generated client ids can be typed after ``idp clients show`` (issue 9)."""

from __future__ import annotations

from idp.clients.service import new_client_id


def test_generated_client_ids_never_look_like_options() -> None:
    # One in 64 random ids would start with "-"; two thousand draws would meet several.
    assert not any(new_client_id().startswith("-") for _ in range(2000))
