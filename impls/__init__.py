"""Implementations of conv -> loss -> SGD, one module each, behind `impls.base`'s interface.

Modules are imported only when used, so `import impls` never imports torch or jax.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# name -> module; the order is the order of report columns.
MODULES = {
    "exact": "impls.exact",
    "manual": "impls.manual",
    "array_api": "impls.array_api",
    "torch": "impls.torch_impl",
    "jax": "impls.jax_impl",
    "fd": "impls.fd",
}
DEFAULT = ("exact", "manual", "torch", "jax", "fd")


def load(name: str) -> ModuleType:
    if name not in MODULES:
        raise KeyError(name)
    return importlib.import_module(MODULES[name])


def unavailable(name: str) -> str | None:
    """Why `name` cannot run here (None when it can), without importing heavy frameworks twice."""
    try:
        mod = load(name)
    except ImportError as exc:  # the module itself failed to import
        return f"{exc}"
    check = getattr(mod, "unavailable", None)
    return check() if check else None
