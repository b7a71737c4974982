"""Command families: importing this package registers every family.

Hot families are compiled into engine.core (``t_*.pxi``); the others are the Python modules here,
found by name so that adding a family needs no edit to a central list.  Services register through the
same registry from services/.
"""
import importlib
import pkgutil

import engine.core  # noqa: F401  (the compiled families register on import)

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")
