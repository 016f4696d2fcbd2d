"""The verifiers chosen in settings, one instance per plug-in name however many registries it
serves (``IDP_REGISTRIES__PERSON_VERIFIER`` and friends)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from idp.clock import Clock
from idp.levels.verifiers.protocol import SERVES, CheckKind, VerifierSetup
from idp.plugins import PluginMisconfigured, Registry
from idp.settings import RegistriesSettings

VerifierFactory = Callable[[VerifierSetup], Any]

VERIFIERS: Registry[VerifierFactory] = Registry(
    "verifier",
    "idp.verifiers",
    {
        "http": "idp.levels.verifiers.http:build",
        "memory": "idp.levels.verifiers.memory:build",
    },
)

_SETTING = {
    CheckKind.PERSON: ("person_verifier", "IDP_REGISTRIES__PERSON_VERIFIER"),
    CheckKind.DOCUMENT: ("document_verifier", "IDP_REGISTRIES__DOCUMENT_VERIFIER"),
    CheckKind.INN: ("tax_verifier", "IDP_REGISTRIES__TAX_VERIFIER"),
}


def chosen_names(settings: RegistriesSettings) -> dict[CheckKind, str]:
    return {kind: getattr(settings, attribute) for kind, (attribute, _) in _SETTING.items()}


def plugin_options(settings: RegistriesSettings, name: str) -> dict[str, Any]:
    if name == "http":
        return settings.http.model_dump()
    return dict(settings.plugins.get(name, {}))


def build_verifiers(
    settings: RegistriesSettings, clock: Clock | None = None
) -> dict[CheckKind, Any]:
    """The verifier of each registry kind. Raises a ``PluginError`` (one line naming the
    plug-in) when a name is unknown, a plug-in fails to load or refuses its settings, or a
    plug-in lacks the methods of a kind it was chosen for."""
    names = chosen_names(settings)
    instances: dict[str, Any] = {}
    for name in dict.fromkeys(names.values()):
        kinds = frozenset(kind for kind, chosen in names.items() if chosen == name)
        setting = " / ".join(_SETTING[kind][1] for kind in sorted(kinds))
        factory = VERIFIERS.load(name, setting=setting)
        instance = factory(VerifierSetup(name, kinds, plugin_options(settings, name), clock))
        for kind in kinds:
            if not isinstance(instance, SERVES[kind]):
                raise PluginMisconfigured(
                    "verifier", name, f"it does not implement the {kind.value} registry protocol"
                )
        instances[name] = instance
    return {kind: instances[name] for kind, name in names.items()}


async def close_verifiers(verifiers: dict[CheckKind, Any]) -> None:
    for instance in {id(v): v for v in verifiers.values()}.values():
        await instance.close()
