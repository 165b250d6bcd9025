"""What the app's parts (:mod:`.views`, :mod:`.listening`, :mod:`.run_actions`,
:mod:`.export_job`) use of the app: :class:`Host`, which :class:`.app.ProgdemixApp` is.
Typing them with this protocol keeps them from importing the app (no cycle)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from textual.notifications import SeverityLevel
from textual.widget import Widget

from .audition_controller import AuditionController
from .widgets.param_panel import ParamPanel
from .widgets.run_view import RunView
from .widgets.timeline import Timeline

W = TypeVar("W", bound=Widget)


class Host(Protocol):
    """The app, as its parts see it."""

    player: AuditionController
    input: Path | None
    step0_cache: bool
    torch_threads: int | None

    @property
    def push_screen(self) -> Callable[..., Any]: ...

    @property
    def run_worker(self) -> Callable[..., Any]: ...

    @property
    def call_from_thread(self) -> Callable[..., Any]: ...

    @property
    def log(self) -> Any: ...

    @property
    def timeline(self) -> Timeline: ...

    @property
    def panel(self) -> ParamPanel: ...

    @property
    def run_view(self) -> RunView: ...

    def notify(self, message: str, *, title: str = "",
               severity: SeverityLevel = "information", timeout: float | None = None,
               markup: bool = False) -> None: ...

    def pane(self, kind: type[W]) -> W: ...

    def sync_selection(self) -> None: ...

    def show_invalid(self, name: str) -> None: ...

    def highlighted_input(self) -> Path | None: ...

    def save_params(self) -> None: ...
