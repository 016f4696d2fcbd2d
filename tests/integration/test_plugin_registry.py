"""The plug-in registry against real distributions found by ``importlib.metadata``."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import pytest

from idp.notify.registry import NOTIFIERS
from idp.plugins import (
    PluginLoadFailed,
    PluginNameConflict,
    Registry,
    UnknownPlugin,
)
from tests.support.plugin_dist import unique_module, write_distribution

Factory = Callable[..., object]


@pytest.fixture
def group() -> str:
    return f"idp.test_gadgets_{uuid.uuid4().hex[:8]}"


def _installed(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    entry_points: dict[str, dict[str, str]],
    modules: dict[str, str] | None = None,
) -> None:
    root = write_distribution(tmp_path / name, name, entry_points, modules)
    monkeypatch.syspath_prepend(str(root))


def test_an_unknown_name_fails_with_one_line_listing_the_known_names(group: str) -> None:
    registry: Registry[Factory] = Registry(
        "gadget", group, {"beta": "json:dumps", "alpha": "json:loads"}
    )
    with pytest.raises(UnknownPlugin) as failure:
        registry.load("gamma", setting="IDP_GADGET")
    assert str(failure.value) == 'unknown gadget "gamma" (setting IDP_GADGET); known: alpha, beta'
    assert failure.value.known == ("alpha", "beta")


def test_a_third_party_entry_point_is_found_and_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, group: str
) -> None:
    module = unique_module()
    _installed(
        tmp_path,
        monkeypatch,
        "acme-gadgets",
        {group: {"acme": f"{module}:make"}},
        {module: "def make(size):\n    return ('acme gadget', size)\n"},
    )
    registry: Registry[Factory] = Registry("gadget", group, {"builtin": "json:dumps"})
    assert registry.names() == ["acme", "builtin"]
    assert registry.load("acme")(3) == ("acme gadget", 3)
    assert registry.origin("acme") == f"entry point {module}:make from acme-gadgets 1.0"
    assert registry.origin("builtin") == "built-in json:dumps"


def test_an_entry_point_that_fails_to_import_names_the_plug_in_and_its_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, group: str
) -> None:
    broken, healthy = unique_module(), unique_module()
    _installed(
        tmp_path,
        monkeypatch,
        "broken-gadgets",
        {group: {"broken": f"{broken}:make", "healthy": f"{healthy}:make"}},
        {
            broken: "import idp_no_such_dependency_xyz\n\ndef make():\n    pass\n",
            healthy: "def make():\n    return 'fine'\n",
        },
    )
    registry: Registry[Factory] = Registry("gadget", group, {})
    with pytest.raises(PluginLoadFailed) as failure:
        registry.load("broken")
    message = str(failure.value)
    assert "\n" not in message
    assert message.startswith(
        f'gadget plug-in "broken" (entry point {broken}:make from broken-gadgets 1.0)'
    )
    assert "ModuleNotFoundError" in message
    assert "idp_no_such_dependency_xyz" in message
    # Only the plug-in that is asked for is imported: a broken neighbour harms nobody.
    assert registry.load("healthy")() == "fine"


def test_an_entry_point_that_is_not_callable_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, group: str
) -> None:
    module = unique_module()
    _installed(
        tmp_path,
        monkeypatch,
        "odd-gadgets",
        {group: {"odd": f"{module}:VALUE"}},
        {module: "VALUE = 3\n"},
    )
    with pytest.raises(PluginLoadFailed, match="not callable"):
        Registry[Factory]("gadget", group, {}).load("odd")


def test_one_name_from_two_packages_is_a_conflict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, group: str
) -> None:
    _installed(tmp_path, monkeypatch, "first-gadgets", {group: {"twin": "json:dumps"}})
    _installed(tmp_path, monkeypatch, "second-gadgets", {group: {"twin": "json:loads"}})
    with pytest.raises(PluginNameConflict) as failure:
        Registry[Factory]("gadget", group, {}).load("twin")
    assert "first-gadgets" in str(failure.value)
    assert "second-gadgets" in str(failure.value)


def test_a_third_party_cannot_take_a_built_in_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, group: str
) -> None:
    _installed(tmp_path, monkeypatch, "squatter", {group: {"smtp": "json:loads"}})
    with pytest.raises(PluginNameConflict, match="built-in json:dumps"):
        Registry[Factory]("gadget", group, {"smtp": "json:dumps"}).load("smtp")


def test_a_built_in_declared_as_an_entry_point_loads_through_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, group: str
) -> None:
    _installed(tmp_path, monkeypatch, "host-app", {group: {"plain": "json:dumps"}})
    registry: Registry[Factory] = Registry("gadget", group, {"plain": "json:dumps"})
    assert registry.origin("plain") == "entry point json:dumps from host-app 1.0"
    assert registry.load("plain")([1]) == "[1]"


def test_idp_declares_its_own_notifiers_as_entry_points() -> None:
    # Fails if pyproject.toml stops declaring them (after the venv's re-install).
    for name in ("dev", "http", "memory", "smtp"):
        assert NOTIFIERS.origin(name).startswith("entry point idp.notify.backends."), name
        assert NOTIFIERS.origin(name).endswith(f":build from idp {version('idp')}"), name
