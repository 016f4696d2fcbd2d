"""The plug-in kit: one shape for every pluggable part of idp.

A kind of plug-in (notifiers today; registry verifiers and signature algorithms next) has four
parts: a ``typing.Protocol`` the implementations satisfy, a :class:`Registry` that picks one by the
name given in settings (built-ins named in code, third-party ones found through the Python entry
point group ``idp.<kind>s``), an in-memory fake for tests, and a contract test suite every
implementation must pass.
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
