"""Plug-ins of one kind, chosen by name: built-ins named in code, others found by entry point.

A registry never imports a plug-in it was not asked for, so a broken third-party package fails
only the installation that names it, and its error says which plug-in and which package.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Generic, TypeVar, cast

FactoryT = TypeVar("FactoryT", bound=Callable[..., object])


class PluginError(ValueError):
    """A plug-in cannot be set up; the message is one line an operator can act on."""


class UnknownPlugin(PluginError):
    def __init__(self, kind: str, name: str, known: Iterable[str], setting: str | None) -> None:
        self.name = name
        self.known = tuple(known)
        where = f" (setting {setting})" if setting else ""
        names = ", ".join(self.known) or "none"
        super().__init__(f'unknown {kind} "{name}"{where}; known: {names}')


class PluginLoadFailed(PluginError):
    def __init__(self, kind: str, name: str, origin: str, reason: str) -> None:
        self.name = name
        super().__init__(f'{kind} plug-in "{name}" ({origin}) failed to load: {reason}')


class PluginNameConflict(PluginError):
    def __init__(self, kind: str, name: str, origins: Iterable[str]) -> None:
        self.name = name
        super().__init__(
            f'{kind} plug-in name "{name}" is declared more than once: {"; ".join(origins)}'
        )


class PluginMisconfigured(PluginError):
    """A factory refuses its settings section (or the channel it was asked to serve)."""

    def __init__(self, kind: str, name: str, reason: str) -> None:
        self.name = name
        super().__init__(f'{kind} plug-in "{name}" is misconfigured: {reason}')


@dataclass(frozen=True, slots=True)
class _Candidate:
    entry_point: EntryPoint
    origin: str


def _origin(entry_point: EntryPoint) -> str:
    dist = entry_point.dist
    where = f" from {dist.name} {dist.version}" if dist is not None else ""
    return f"entry point {entry_point.value}{where}"


class Registry(Generic[FactoryT]):
    """The factories of one kind of plug-in, by name.

    ``builtins`` maps names to ``module:attribute`` references, the same form as an entry point's
    value; idp declares its built-ins as entry points too, and the references here only stand in
    when the installed metadata is older than the code (an editable install not re-installed).
    A name may be declared by several sources only if they all point at the same object.
    """

    def __init__(self, kind: str, group: str, builtins: Mapping[str, str]) -> None:
        self.kind = kind
        self.group = group
        self._builtins = dict(builtins)

    def names(self) -> list[str]:
        return sorted(self._candidates())

    def origin(self, name: str) -> str:
        """Where ``name`` comes from, for error messages and operators."""
        return self._candidate(name, None).origin

    def load(self, name: str, *, setting: str | None = None) -> FactoryT:
        """The factory registered as ``name``; ``setting`` names where the name was read."""
        candidate = self._candidate(name, setting)
        try:
            loaded = candidate.entry_point.load()
        except Exception as exc:  # any import-time failure of foreign code
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
            raise PluginLoadFailed(self.kind, name, candidate.origin, reason) from exc
        if not callable(loaded):
            reason = f"{type(loaded).__name__} object is not a factory (not callable)"
            raise PluginLoadFailed(self.kind, name, candidate.origin, reason)
        return cast(FactoryT, loaded)

    def _candidate(self, name: str, setting: str | None) -> _Candidate:
        candidates = self._candidates()
        found = candidates.get(name)
        if not found:
            raise UnknownPlugin(self.kind, name, sorted(candidates), setting)
        if len({c.entry_point.value for c in found}) > 1:
            raise PluginNameConflict(self.kind, name, (c.origin for c in found))
        return found[0]

    def _candidates(self) -> dict[str, list[_Candidate]]:
        # Read afresh on each call: it happens at start-up only, and a package installed since
        # (or a path added in a test) is seen without a process-wide cache to reset.
        found: dict[str, list[_Candidate]] = {}
        for entry_point in entry_points(group=self.group):
            found.setdefault(entry_point.name, []).append(
                _Candidate(entry_point, _origin(entry_point))
            )
        for name, reference in self._builtins.items():
            declared = found.setdefault(name, [])
            if all(c.entry_point.value != reference for c in declared):
                builtin = EntryPoint(name=name, value=reference, group=self.group)
                declared.append(_Candidate(builtin, f"built-in {reference}"))
        return found
