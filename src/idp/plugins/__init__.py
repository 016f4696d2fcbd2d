"""The plug-in kit: one shape for every pluggable part of idp.

A kind of plug-in (notifiers today; registry verifiers and signature algorithms next) has four
parts: a ``typing.Protocol`` the implementations satisfy, a :class:`Registry` that picks one by the
name given in settings (built-ins named in code, third-party ones found through the Python entry
point group ``idp.<kind>s``), an in-memory fake for tests, and a contract test suite every
implementation must pass.

Adding a kind (``idp.verifiers`` and ``idp.signature_algorithms`` are next) repeats what
``idp.notify`` does:

1. ``<domain>/protocol.py``: the Protocol, a frozen ``…Setup`` dataclass holding only what a
   plug-in may use (its own settings section, the clock, the database where needed) and the
   factory type ``Callable[[…Setup], Protocol]``.
2. ``<domain>/registry.py``: ``Registry(kind=…, group="idp.<kind>s", builtins={name: "mod:attr"})``
   and a ``build_…(settings, …)`` that reads the chosen name from settings, loads the factory and
   wraps anything the factory raises in :class:`PluginMisconfigured`.
3. The built-ins declared under ``[project.entry-points."idp.<kind>s"]`` in ``pyproject.toml``.
4. A fake among the built-ins, and ``<domain>/contract.py``: a class of ``test_…`` methods over a
   harness protocol, each run with :func:`idp.plugins.testing.run_check`.
"""

from idp.plugins.registry import (
    PluginError,
    PluginLoadFailed,
    PluginMisconfigured,
    PluginNameConflict,
    Registry,
    UnknownPlugin,
)

__all__ = [
    "PluginError",
    "PluginLoadFailed",
    "PluginMisconfigured",
    "PluginNameConflict",
    "Registry",
    "UnknownPlugin",
]
