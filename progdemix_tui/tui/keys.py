"""Every key of the app, in one place: the bindings, the help screen and docs/tui.md."""

from __future__ import annotations

from textual.binding import Binding, BindingType

# (key, action, description, show in footer); player('x', ...): listening.PLAYER_KEYS['x'];
# view('x'): the action 'x' of a view (views.VIEWS)
APP_KEYS: list[tuple[str, str, str, bool]] = [
    ("r", "run", "Run", True),
    ("c", "cancel", "Cancel", True),
    # Esc: in a text field, leave it (shown then: the field hides the letter keys from the
    # footer); anywhere else, or during a run, cancel the run (ProgdemixApp.check_action)
    ("escape", "leave_field", "Leave field", True),
    ("escape", "cancel", "Cancel run", False),
    ("e", "export", "Export", True),
    ("o", "sessions", "Sessions", True),
    ("R", "resume", "Resume session", False),
    ("question_mark", "help", "Help", True),
    ("f1", "help", "Help", False),
    ("f", "show_tab('files')", "Files", False),
    ("p", "show_tab('params')", "Params", False),
    ("t", "focus_timeline", "Timeline", False),
    ("z", "toggle_sidebar", "Zoom timeline", False),
    ("space", "player('play_pause')", "Play/pause", False),
    ("a", "player('mark', 'A')", "Mark A", False),
    ("b", "player('mark', 'B')", "Mark B", False),
    ("x", "player('toggle_ab')", "A↔B", False),
    ("left_square_bracket", "player('seek', -5)", "Seek −5 s", False),
    ("right_square_bracket", "player('seek', 5)", "Seek +5 s", False),
    ("shift+left", "player('seek', -5)", "Seek −5 s", False),
    ("shift+right", "player('seek', 5)", "Seek +5 s", False),
    ("g", "player('goto')", "Go to time", False),
    ("0", "player('stop')", "Stop, rewind", False),
    ("minus", "player('volume', -0.1)", "Volume −", False),
    ("plus", "player('volume', 0.1)", "Volume +", False),
    ("equals_sign", "player('volume', 0.1)", "Volume +", False),
    ("l", "player('loop')", "Loop set/clear", False),
    ("m", "player('blind', 'ab')", "Blind A/B", False),
    ("M", "player('blind', 'abx')", "ABX test", False),
    ("1", "player('blind_answer', '1')", "Blind: answer 1", False),
    ("2", "player('blind_answer', '2')", "Blind: answer 2", False),
    ("C", "view('chart')", "Chart", False),
    ("D", "view('difference')", "A−B map", False),
    ("n", "view('next_difference')", "Next difference", False),
    ("S", "view('spectrogram')", "Spectrogram", False),
    ("s", "cycle_stem", "Next stem", False),
    ("v", "cycle_source", "Next source", False),
    ("d", "toggle_theme", "Light/dark", False),
    ("q", "quit", "Quit", True),
]

# (title, action, description): the command palette's own entries (Ctrl+P); each names the
# first key of APP_KEYS bound to its action.
PALETTE: list[tuple[str, str, str]] = [
    ("Run", "run", "Run progressive inference on the chosen input"),
    ("Cancel run", "cancel", "Stop the run; completed steps are kept"),
    ("Export step", "export", "Export the selected step or A/B clips"),
    ("Open session", "sessions", "Open a previous run from the sessions folder"),
    ("Go to time", "player('goto')", "Seek to a typed position: 1:23, 83.5, 50%"),
    ("Blind A/B test", "player('blind', 'ab')", "A and B hidden as 1/2; 1/2 picks; m reveals"),
    ("ABX test", "player('blind', 'abx')", "Is X A or B? 1/2 answers; M reveals"),
    ("Chart of the steps", "view('chart')", "SI-SDR (or estimate change) and β against the step"),
    ("A/B difference map", "view('difference')", "Where A and B differ: A − B level per 0.5 s"),
    ("Next difference", "view('next_difference')", "Move the playhead to the next largest A − B"),
    ("Spectrogram", "view('spectrogram')", "The selected step's source, log-frequency, playhead"),
    ("Keys", "help", "Show every key"),
    ("Toggle side panel", "toggle_sidebar", "Hide/show files and parameters"),
    ("Toggle light/dark", "toggle_theme", "Switch theme"),
]
KEY_NAMES = {"question_mark": "?"}  # how a binding's key is written in the palette

HELP: list[tuple[str, list[tuple[str, str]]]] = [
    ("Run", [
        ("r", "run with the current file and parameters"),
        ("c / Esc", "cancel the run (completed steps are kept)"),
        ("Esc", "in a text field: leave it, so the letter keys work again"),
        ("o", "sessions: open a previous run (restores its timeline)"),
        ("e", "export the selected step (target / all stems; WAV, FLAC or MP3) or A/B clips"),
    ]),
    ("Navigate", [
        ("Tab / Shift+Tab", "move focus between panels and fields"),
        ("f / p", "show the Files / Params tab"),
        ("t", "focus the timeline; ↑/↓ select a step"),
        ("z", "hide/show the side panel (wide timeline)"),
        ("Enter", "files: choose file or track folder; path box: choose typed path"),
        ("Ctrl+P", "command palette"),
    ]),
    ("Listen (A/B)", [
        ("s / v", "next stem / next source (estimate, y_n, mixture, reference, residual)"),
        ("a / b", "mark the selected step+stem+source as A / B"),
        ("x", "switch between A and B (level-matched); blind: next slot"),
        ("Space", "play / pause (nothing marked: the selected step, marked A)"),
        ("[ / ]  Shift+←/→", "seek −5 s / +5 s"),
        ("g", "go to a typed time: 1:23, 83.5, 1:02:03 or 50%"),
        ("l", "loop: set start, set end, clear"),
        ("0", "stop and rewind (to the loop start)"),
        ("- / +", "volume down / up (10 % steps, 0-200 %)"),
    ]),
    ("Blind tests", [
        ("m", "blind A/B: A and B become 1 and 2, in a new random order each trial"),
        ("M", "ABX: X is secretly A or B; say which (p-value in the tally)"),
        ("1 / 2", "answer: prefer 1 / 2; ABX: X is A / X is B (then a new trial)"),
        ("m / M", "while a test runs: reveal which was which, end it, show the tally"),
    ]),
    ("See the steps", [
        ("C", "chart: every stem's SI-SDR (or Δest, residual) and β against the step"),
        ("Space, C", "sessions screen: mark sessions, then chart their target curves"),
        ("D", "A/B difference map: level of A − B (level-matched) per 0.5 s, playhead ▲"),
        ("n", "move the playhead to the next largest A − B difference"),
        ("S", "spectrogram of the selected step's source (s stem, v source), playhead ┃"),
    ]),
    ("App", [
        ("d", "toggle light / dark theme"),
        ("--audio-device", "output device (index, name, or web[:PORT]): progdemix-tui devices lists them"),
        ("? / F1", "this help"),
        ("q / Ctrl+Q", "quit (parameters are saved)"),
    ]),
]


def bindings() -> list[BindingType]:
    """The app's bindings; ``player(...)`` keys work from anywhere, ``view(...)`` keys on the
    main screen."""
    return [Binding(key, action, desc, show=show) for key, action, desc, show in APP_KEYS]


def palette() -> list[tuple[str, str, str]]:
    """(title, help ending with its key, action) for each :data:`PALETTE` entry."""
    keys = {}
    for key, action, _, _ in reversed(APP_KEYS):
        keys[action] = KEY_NAMES.get(key, key)
    return [(title, f"{text} ({keys[action]})", action) for title, action, text in PALETTE]
