"""Finding and registering parser plugins: built-ins and third parties by one path.

Parsers come from the ``tailer.parsers`` entry-point group. The built-ins in ``parsers/`` are
listed in that group by this distribution, exactly as a third party lists its own; when the
project runs from a source tree without being installed, they are found by module name instead.
Loading happens once, when :func:`load_parsers` is called, never at import.
"""

from __future__ import annotations

import functools
import importlib
import os
import re
import sys
from collections.abc import Iterable, Sequence
from importlib import metadata
from types import ModuleType

import pluggy

from tailer import hookspecs
from tailer.assembly import Assembler, Limits
from tailer.parser import LoadedParser, Parser
from tailer.records import Level

ENTRY_POINT_GROUP = "tailer.parsers"
DISTRIBUTION = "logtailer"
#: Set to a non-empty value to load only the built-in parsers (and those named in TAILER_PLUGINS).
AUTOLOAD_ENV = "TAILER_DISABLE_PLUGIN_AUTOLOAD"
#: Comma-separated module names of extra plugins to load, autoloading or not.
PLUGINS_ENV = "TAILER_PLUGINS"
#: Built-ins in the order they are tried: the most specific formats first.
BUILTIN_MODULES: tuple[str, ...] = (
    "parsers.pytraceback",
    "parsers.uvicorn",
    "parsers.syslog",
    "parsers.plain",
)


class PluginValidationError(Exception):
    """A plugin returned something tailer cannot use; the message names the plugin."""


def make_manager() -> pluggy.PluginManager:
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    return manager


def load_parsers(
    *, autoload: bool | None = None, plugins: Iterable[ModuleType | object] = ()
) -> list[LoadedParser]:
    """Build the plugin manager, register plugins, and return their parsers in trial order.

    :param autoload: load third-party entry points; by default unless
      ``TAILER_DISABLE_PLUGIN_AUTOLOAD`` is set.
    :param plugins: plugin objects registered after everything else (so they come first), for
      tests and embedding applications.
    """
    manager, origins = _registered(autoload)
    for plugin in plugins:
        name = getattr(plugin, "__name__", None) or type(plugin).__name__
        manager.register(plugin, name=name)
        origins[name] = "explicit"
    return _collect(manager, origins)


def build_assembler(
    min_level: Level | str = Level.ERROR,
    *,
    parsers: Sequence[LoadedParser] | None = None,
    limits: Limits | None = None,
    host: str | None = None,
) -> Assembler:
    """An assembler over ``parsers`` (default: every plugin found, see :func:`load_parsers`)."""
    return Assembler(
        load_parsers() if parsers is None else parsers,
        min_level=min_level, limits=limits, host=host,
    )


def configure(options: dict[str, object], *, autoload: bool | None = None) -> None:
    """Hand the ``[parsers]`` configuration table to every plugin (start-up only)."""
    manager, _origins = _registered(autoload)
    manager.hook.tailer_configure(options=options)


def _registered(autoload: bool | None) -> tuple[pluggy.PluginManager, dict[str, str]]:
    """A manager with the discovered plugins registered, and each plugin's origin."""
    if autoload is None:
        autoload = not os.environ.get(AUTOLOAD_ENV)
    manager = make_manager()
    origins: dict[str, str] = {}
    found = _discover(autoload, os.environ.get(PLUGINS_ENV, ""), tuple(sys.path))
    for name, plugin, origin in found:
        if manager.get_plugin(name) is None and not manager.is_registered(plugin):
            manager.register(plugin, name=name)
            origins[name] = origin
    return manager, origins


@functools.lru_cache(maxsize=8)
def _discover(
    autoload: bool, named: str, _path: tuple[str, ...]
) -> list[tuple[str, ModuleType, str]]:
    """Built-ins first, then third parties: pluggy calls the last registered first, so
    built-ins are registered in reverse trial order and third parties after all of them.

    Entry points are scanned once per process for the same settings (the daemon asks at
    start-up for the parsers and again to configure them); ``named`` is ``TAILER_PLUGINS``,
    ``_path`` keys the cache on ``sys.path``, where entry points are found."""
    builtins: dict[str, tuple[str, ModuleType, str]] = {}
    third: list[tuple[str, ModuleType, str]] = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist is not None else "unknown"
        is_builtin = dist.lower() == DISTRIBUTION and ep.value in BUILTIN_MODULES
        if not is_builtin and not autoload:
            continue
        module = _load_entry_point(ep)
        if is_builtin:
            builtins[ep.value] = (ep.name, module, "built-in")
        else:
            version = ep.dist.version if ep.dist is not None else "?"
            third.append((ep.name, module, f"{dist} {version}"))
    for module_name in BUILTIN_MODULES:  # running from a source tree, not installed
        if module_name not in builtins:
            name = module_name.rsplit(".", 1)[-1]
            builtins[module_name] = (name, _import(module_name), "built-in")
    found = [builtins[m] for m in reversed(BUILTIN_MODULES)]
    for module_name in filter(None, named.split(",")):
        third.append((module_name.strip(), _import(module_name.strip()), "TAILER_PLUGINS"))
    return found + third


def _load_entry_point(ep: metadata.EntryPoint) -> ModuleType:
    try:
        return ep.load()
    except Exception as exc:
        raise PluginValidationError(
            f"parser plugin {ep.name!r} ({ep.value}) failed to import: {exc}; "
            f"uninstall it or set {AUTOLOAD_ENV}=1 to start without third-party plugins"
        ) from exc


def _import(module_name: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except Exception as exc:
        raise PluginValidationError(
            f"parser plugin module {module_name!r} failed to import: {exc}"
        ) from exc


def _collect(manager: pluggy.PluginManager, origins: dict[str, str]) -> list[LoadedParser]:
    loaded: list[LoadedParser] = []
    # hook results come last-registered first; walk the implementations to know each plugin
    for impl in reversed(manager.hook.tailer_parsers.get_hookimpls()):
        result = impl.function()
        name = impl.plugin_name
        for parser in result or ():
            validate(parser, name)
            loaded.append(LoadedParser(parser, name, origins.get(name, "explicit")))
    names = [lp.name for lp in loaded]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise PluginValidationError(f"more than one parser is named {sorted(duplicates)}")
    return loaded


def validate(parser: object, plugin: str) -> None:
    """Raise :class:`PluginValidationError` naming ``plugin`` if tailer cannot use ``parser``."""
    if not isinstance(parser, Parser):
        raise PluginValidationError(
            f"plugin {plugin!r} returned {parser!r} from tailer_parsers; expected Parser instances"
        )
    if not parser.name:
        raise PluginValidationError(f"plugin {plugin!r} has a parser without a name")
    patterns: Sequence[str] = [s.pattern for s in parser.starts]
    patterns = [*patterns, *(r.pattern for r in parser.rules)]
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise PluginValidationError(
                f"parser {parser.name!r} of plugin {plugin!r} has a bad pattern {pattern!r}: {exc}"
            ) from exc
