"""``progdemix-tui [PATH]``: the terminal app's own command line.

:func:`main` parses it, applies ``--model``/``--out``/``--audio-device`` to the saved
settings, ``--threads`` and ``--no-cache`` to the runs, and runs
:class:`progdemix_tui.tui.app.ProgdemixApp`. Textual is imported only when the app is built,
so parsing stays fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from progdemix_tui.engine.config import DEFAULT_MODEL
from progdemix_tui.engine.errors import ProgdemixError
from progdemix_tui.engine.options import OPTION
from progdemix_tui.engine.threads import torch_threads

from .common import Parser, add_option, fail

if TYPE_CHECKING:
    from progdemix_tui.tui.app import ProgdemixApp
    from progdemix_tui.tui.settings import Settings

OFFLINE_NOTICE = (f"{DEFAULT_MODEL} is not cached and cannot be downloaded offline: using the "
                  "demo model; choose another in Params")


def offline_model_fallback(settings: Settings, status: Callable[[str], Any] | None = None
                           ) -> str | None:
    """Preselect the bundled ``demo`` model when the default one is not cached.

    Only when the user has not chosen a model (no ``model`` in the saved settings, no
    ``--model``: the caller skips this then), no model path is set, the default model
    (:data:`DEFAULT_MODEL`) is not cached and the demo weights are present. Returns the
    one-time notice to show, or None (nothing changed: then a run's error explains a missing
    model). The fallback is a stand-in: quitting does not save ``demo`` as the user's choice
    (choosing another model in Params does save that one).
    """
    if "model" in settings.stored or settings.params.get("model_path") \
            or settings.params.get("model", DEFAULT_MODEL) != DEFAULT_MODEL:
        return None
    if status is None:
        from progdemix_tui.engine.models import model_status

        status = model_status
    try:
        if status(DEFAULT_MODEL).cached or not status("demo").cached:
            return None
    except Exception:  # a broken cache must not stop the app from opening
        return None
    settings.stand_in("model", "demo")  # for this session: not saved as the user's choice
    return OFFLINE_NOTICE


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="progdemix-tui", description="Open the progdemix-tui terminal app.",
        epilog="`progdemix-tui devices` lists the audio output devices.")
    parser.add_argument("path", nargs="?", metavar="PATH",
                        help="folder to browse, or an audio file / track folder to open")
    # None: not given on the command line (the saved choice stands)
    add_option(parser, OPTION["model"], default=None, metavar=None,
               help="model name or .safetensors path (saved as last used)")
    add_option(parser, OPTION["out"], default=None)
    add_option(parser, OPTION["threads"])
    add_option(parser, OPTION["cache"])
    parser.add_argument("--session", metavar="DIR", help="open this session folder")
    parser.add_argument("--audio-device", metavar="NAME|INDEX",
                        help="audio output device: index or (part of) its name, as listed by "
                             "`progdemix-tui devices`; web or web:PORT = a browser page (over "
                             "SSH: ssh -L); '' = the default (saved as last used)")
    return parser


TUI_OPTIONS: tuple[str, ...] = tuple(
    flag for action in build_parser()._actions for flag in action.option_strings  # noqa: SLF001
    if flag.startswith("--") and flag != "--help")
"""Options of the TUI itself: a command line that starts with one of them opens the TUI."""


def build_app(argv: list[str] | None = None, **kwargs: Any) -> ProgdemixApp:
    """The app for command line ``argv`` (``kwargs`` go to :class:`ProgdemixApp`)."""
    from progdemix_tui.playback.errors import AudioUnavailable
    from progdemix_tui.playback.outputs import check_output
    from progdemix_tui.tui.app import ProgdemixApp
    from progdemix_tui.tui.audition import parse_device
    from progdemix_tui.tui.paths import expand
    from progdemix_tui.tui.session_reader import read_session
    from progdemix_tui.tui.settings import Settings

    args = build_parser().parse_args(argv or [])
    if args.threads is not None:  # else the app's default: the same policy
        kwargs["torch_threads"] = torch_threads(args.threads)
    if not args.cache:
        kwargs["step0_cache"] = False
    session = None
    if args.session:
        session = expand(args.session)
        read_session(session)  # not a readable session: ProgdemixError, before the app opens
    settings = Settings.load()
    notices = []
    if args.model:
        key = "model_path" if Path(args.model).suffix or "/" in args.model else "model"
        settings.params[key] = args.model
        if key == "model":
            settings.params["model_path"] = ""
    elif (notice := offline_model_fallback(settings)) is not None:
        notices.append(notice)
    if args.out:
        settings.params["out"] = args.out
    if args.audio_device is not None:
        settings.ui["audio_device"] = args.audio_device.strip()
    device = parse_device(settings.ui.get("audio_device", ""))
    try:
        check_output(device)  # e.g. a bad web:PORT or a busy port: one line, exit 2
    except AudioUnavailable as exc:
        if args.audio_device is not None:
            raise
        raise AudioUnavailable(
            exc.kind, f"the audio_device {device!r} saved in {settings.path or 'settings.json'}: "
            f"{exc.reason}", "Start with --audio-device '' (the default output) or another "
            "device; it is saved in its place") from None
    app = ProgdemixApp(args.path, settings=settings, audio_device=device, notices=notices,
                       **kwargs)
    if session is not None:
        app.call_later(app.open_session_folder, session)
    return app


def main(argv: list[str] | None = None) -> int:
    """Run the app; the exit status is non-zero if it stopped on an unhandled error.

    A ``--session`` folder that cannot be read is refused before the app starts, as the
    CLI refuses bad input: one line on stderr, exit 2.
    """
    try:
        app = build_app(argv)
    except ProgdemixError as exc:
        return fail(str(exc), exc.exit_code)
    result = app.run()
    if app.return_code:  # Textual sets 1 after an unhandled exception (the traceback shown)
        return app.return_code
    return int(result or 0)
