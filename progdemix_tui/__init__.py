"""progdemix-tui: progressive inference music demixing with Hybrid Demucs.

``progdemix_tui.separate(path_or_tensor, model=…, steps=…, …)`` runs it in one call and
returns a :class:`Result` (docs/api.md). Importing the package is cheap: the API, torch and
the models load on first use.
"""

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["Result", "__version__", "separate"]


def __getattr__(name: str) -> object:
    if name in ("separate", "Result"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names load lazily
    from .api import Result, separate
