"""Registry check waits that cannot fit in the retry period are refused at start-up."""

from __future__ import annotations

import pytest

from idp.settings import RegistriesSettings, Settings


@pytest.mark.parametrize("name", ["answer_wait_max", "backoff_max"])
def test_a_wait_as_long_as_the_retry_period_is_refused(name: str) -> None:
    Settings().check()  # the defaults agree
    fits = {"retry_period": 60, "answer_wait_max": 59.0, "backoff_max": 59.0}
    Settings(registries=RegistriesSettings(**fits)).check()
    too_long = RegistriesSettings(**{**fits, name: 60.0})
    with pytest.raises(ValueError, match=f"IDP_REGISTRIES__{name.upper()}"):
        Settings(registries=too_long).check()
