"""The model load as the commands show it: a spinner on stderr around the engine's
:class:`~progdemix_tui.engine.separator.SeparatorCache`."""

from __future__ import annotations

from collections.abc import Callable

from progdemix_tui.engine.config import SeparatorConfig
from progdemix_tui.engine.separator import Separator, SeparatorCache
from progdemix_tui.engine.threads import use_threads

from .common import err_console


class SpinnerCache(SeparatorCache):
    """A :class:`SeparatorCache` that sets torch's ``threads``
    (:func:`~progdemix_tui.engine.threads.use_threads`) and loads under a spinner: a note only
    when the engine says a download starts or where a model comes from; a download's bytes
    so far replace the spinner's text. A model kept from the last call is reused without a
    spinner (a batch reuses it under its own progress display)."""

    def __init__(self, threads: int) -> None:
        super().__init__()
        self.threads = threads
        self._loaded: SeparatorConfig | None = None

    def get(self, config: SeparatorConfig,
            notify: Callable[[str], None] | None = None) -> Separator:
        from progdemix_tui.engine.hub import DownloadProgress

        if config == self._loaded:
            return super().get(config, notify)  # kept: nothing loads
        use_threads(self.threads)
        with err_console.status(f"loading model {config.model}…") as status:
            def say(text: str) -> None:
                if isinstance(text, DownloadProgress):  # bytes so far: in place, not a line
                    status.update(text)
                    status.start()
                    return
                status.stop()
                err_console.print(text, soft_wrap=True)  # one line each
                if notify is not None:
                    notify(text)

            separator = super().get(config, say)
        self._loaded = config
        return separator
