"""Qualified certificate profiles: who a certificate names and why it counts as qualified.

``PROFILES`` maps the names used in settings (``IDP_SIGNATURES__PROFILES``) to the built-ins;
:func:`profiles_named` gives them in the order settings list them.
"""

from __future__ import annotations

from collections.abc import Iterable

from idp.plugins import PluginError
from idp.signatures.profiles.eu_eidas import EuEidasProfile
from idp.signatures.profiles.ru_fsb795 import RuFsb795Profile
from idp.signatures.protocol import CertificateProfile

PROFILES: dict[str, CertificateProfile] = {
    RuFsb795Profile.name: RuFsb795Profile(),
    EuEidasProfile.name: EuEidasProfile(),
}


class UnknownProfile(PluginError):
    """A profile name settings give that idp does not know: start-up stops with this line."""


def profiles_named(names: Iterable[str]) -> tuple[CertificateProfile, ...]:
    chosen = []
    for name in names:
        profile = PROFILES.get(name)
        if profile is None:
            known = ", ".join(sorted(PROFILES))
            raise UnknownProfile(
                f'unknown certificate profile "{name}" (setting IDP_SIGNATURES__PROFILES); '
                f"known: {known}"
            )
        chosen.append(profile)
    return tuple(chosen)
