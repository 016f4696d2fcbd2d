"""The algorithm plug-ins chosen in settings (``IDP_SIGNATURES__ALGORITHMS``), looked up by OID."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from idp.plugins import PluginMisconfigured, Registry
from idp.signatures.protocol import AlgorithmSetup, SignatureAlgorithm

AlgorithmFactory = Callable[[AlgorithmSetup], SignatureAlgorithm]

ALGORITHMS: Registry[AlgorithmFactory] = Registry(
    "signature algorithm",
    "idp.signature_algorithms",
    {
        "pyca": "idp.signatures.algorithms.pyca:build",
        "gost": "idp.signatures.algorithms.gost:build",
    },
)

_SETTING = "IDP_SIGNATURES__ALGORITHMS"


class Algorithms:
    """The loaded plug-ins; the first one named in settings wins an OID that two serve."""

    def __init__(self, plugins: Iterable[SignatureAlgorithm]) -> None:
        self.plugins = tuple(plugins)
        self._by_signature: dict[str, SignatureAlgorithm] = {}
        self._by_digest: dict[str, SignatureAlgorithm] = {}
        for plugin in self.plugins:
            for oid in plugin.signature_oids:
                self._by_signature.setdefault(oid, plugin)
            for oid in plugin.digest_oids:
                self._by_digest.setdefault(oid, plugin)

    def for_signature(self, oid: str) -> SignatureAlgorithm | None:
        return self._by_signature.get(oid)

    def for_digest(self, oid: str) -> SignatureAlgorithm | None:
        return self._by_digest.get(oid)


def load_algorithms(names: Iterable[str]) -> Algorithms:
    """The plug-ins named, built. Raises a ``PluginError`` (one line naming the plug-in) when a
    name is unknown, a plug-in fails to load, or what it builds is not a SignatureAlgorithm."""
    plugins = []
    for name in dict.fromkeys(names):
        factory = ALGORITHMS.load(name, setting=_SETTING)
        try:
            plugin = factory(AlgorithmSetup(name))
        except PluginMisconfigured:
            raise
        except Exception as exc:  # foreign code refusing its setup
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
            raise PluginMisconfigured("signature algorithm", name, reason) from exc
        if not isinstance(plugin, SignatureAlgorithm):
            raise PluginMisconfigured(
                "signature algorithm", name, "it does not implement SignatureAlgorithm"
            )
        plugins.append(plugin)
    return Algorithms(plugins)


_LOADED: dict[tuple[str, ...], Algorithms] = {}


def algorithms_named(names: Iterable[str]) -> Algorithms:
    """The same as :func:`load_algorithms`, built once per process (pool workers call it for
    every verification)."""
    key = tuple(names)
    found = _LOADED.get(key)
    if found is None:
        found = _LOADED[key] = load_algorithms(key)
    return found
