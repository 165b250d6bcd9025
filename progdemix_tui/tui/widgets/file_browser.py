"""File browser: a directory tree of audio files and MUSDB-style track folders, a path
input, and one line of information about the highlighted entry."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DirectoryTree, Input, Static

from progdemix_tui.engine import audio, tracks
from progdemix_tui.engine.errors import InputUnreadable, NoMixture, ProgdemixError
from progdemix_tui.formatting import fmt_time
from progdemix_tui.text import plain, visible

from ..paths import PATH_ERRORS, expand, is_dir, reason


def is_audio(path: Path) -> bool:
    return path.suffix.lower() in audio.AUDIO_EXTENSIONS


def describe(path: Path) -> tuple[str, bool]:
    """One line about ``path`` (from :func:`~progdemix_tui.engine.tracks.inspect_input`) and
    whether it can be used as an input.

    Never raises: a folder that cannot be listed, a file that vanished or cannot be read
    becomes the line (``cannot read: Permission denied``)."""
    try:
        found = tracks.inspect_input(path)
    except NoMixture:
        return "folder (no mixture file)", False
    except InputUnreadable as exc:
        return f"cannot read: {reason(exc.cause)}", False
    except ProgdemixError as exc:
        return str(exc), False
    except PATH_ERRORS as exc:
        return f"cannot read: {reason(exc)}", False
    if not found.track_folder:
        return f"{_info(found.audio)} · no reference stems", True
    refs = ("reference stems found: metrics shown" if found.references
            else "no reference stems")
    return f"track folder · {_info(found.audio)} · {refs}", True


def _info(meta: audio.AudioInfo) -> str:
    return (f"{fmt_time(meta.duration)} · {meta.samplerate} Hz · {meta.channels} ch · "
            f"{meta.format}/{meta.subtype}")


class AudioTree(DirectoryTree):
    """A DirectoryTree showing only folders and audio files (hidden entries skipped)."""

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [p for p in paths if not p.name.startswith(".")
                and (self._safe_is_dir(p) or is_audio(p))]

    def process_label(self, label: str | Text) -> Text:
        """A name from the folder as written: controls visible, never markup."""
        return super().process_label(plain(label) if isinstance(label, str) else label)


class FileBrowser(Vertical):
    """Tree + path input + info line. Posts :class:`FileBrowser.Chosen` for an input."""

    class Chosen(Message):
        """``path`` (an audio file or track folder) was chosen as the run's input."""

        def __init__(self, path: Path, info: str) -> None:
            super().__init__()
            self.path = path
            self.info = info

    def __init__(self, root: Path, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.root = root
        self.info = ""

    def compose(self) -> ComposeResult:
        yield Input(placeholder="type a path, Enter to choose", id="path-input", compact=True)
        yield AudioTree(self.root, id="tree")
        yield Static("", id="file-info", markup=False)

    @property
    def audio_tree(self) -> AudioTree:
        return self.query_one(AudioTree)

    def show_info(self, path: Path) -> tuple[str, bool]:
        text, ok = describe(path)
        self.info = f"{_short(path)}: {text}"
        self.query_one("#file-info", Static).update(visible(self.info))
        return text, ok

    def highlighted_input(self) -> Path | None:
        """The tree's highlighted entry if it is usable as an input (an audio file or a
        MUSDB-style track folder), else None."""
        node = self.audio_tree.cursor_node
        entry = node.data if node is not None else None
        if entry is None:
            return None
        path = Path(entry.path)
        if not (is_audio(path) or mixture_file(path) is not None):
            return None
        return path if describe(path)[1] else None

    def choose(self, path: Path) -> bool:
        """Make ``path`` the input if it is usable; returns whether it was."""
        text, ok = self.show_info(path)
        if ok:
            self.post_message(self.Chosen(path, text))
        return ok

    @on(DirectoryTree.NodeHighlighted)
    def _highlighted(self, event: DirectoryTree.NodeHighlighted) -> None:
        event.stop()
        entry = event.node.data
        if entry is not None:
            self.show_info(Path(entry.path))

    @on(DirectoryTree.FileSelected)
    def _file_selected(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self.choose(Path(event.path))

    @on(DirectoryTree.DirectorySelected)
    def _dir_selected(self, event: DirectoryTree.DirectorySelected) -> None:
        event.stop()
        path = Path(event.path)
        if mixture_file(path) is not None:
            self.choose(path)
        else:
            self.show_info(path)  # says why when the folder cannot be read

    @on(Input.Submitted, "#path-input")
    def _typed(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            return
        path = expand(text)
        if is_dir(path) and mixture_file(path) is None:
            self.audio_tree.path = path  # browse there
            self.show_info(path)
            return
        if self.choose(path):
            self.audio_tree.focus()


def start_point(path: str | Path | None) -> tuple[Path, Path | None]:
    """The folder to browse and the input chosen for ``progdemix-tui [PATH]``: a plain folder
    is browsed; a file or a track folder is the input, browsed from its parent."""
    if path is None:
        return Path("."), None
    given = expand(path)
    if is_dir(given) and mixture_file(given) is None:
        return given, None
    return (given.parent if str(given.parent) else Path(".")), given


def mixture_file(folder: Path) -> Path | None:
    """The mixture file of a track folder; None for anything else, unreadable ones included."""
    try:
        return tracks.find_stem(folder, "mixture") if folder.is_dir() else None
    except PATH_ERRORS:
        return None


def _short(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except (ValueError, OSError):  # elsewhere, or the current folder was removed
        return str(path)
