"""Names of a package loaded on first use (PEP 562), so that importing it stays cheap.

A package whose public names need a heavy library (pyHanko, python-pkcs11)
lists them with their modules and sets its module ``__getattr__`` to
:func:`loader`: the command line can import the package without loading
the library until a name is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def loader(package: str, namespace: dict[str, Any], modules: Mapping[str, str]) -> Callable[[str], object]:
    """The ``__getattr__`` of *package*: each name of *modules* is imported from its module when first asked.

    The value is then kept in *namespace* (the package's ``globals()``), so it is imported once.
    """

    def load(name: str) -> object:
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return load


__all__ = ["loader"]
