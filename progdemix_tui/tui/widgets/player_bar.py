"""Player bar: shows the audition (:class:`..audition_controller.AuditionController`): the
marks and transport state, the selection and messages, and where the output plays."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from progdemix_tui.formatting import fmt_time
from progdemix_tui.playback import BlindState
from progdemix_tui.text import visible

from ..audition import Cue, session_tag
from ..audition_controller import AuditionController


def tally_text(state: BlindState) -> str:
    """The running score of a blind test (a :class:`progdemix_tui.playback.BlindState`)."""
    t = state.tally
    if state.mode == "abx":
        return f"ABX #{state.trial} {t.correct}/{t.trials} right p={t.p_value:.2f}"
    return f"blind #{state.trial} prefer A {t.prefer.get('A', 0)} B {t.prefer.get('B', 0)}"


class PlayerBar(Vertical):
    """Two lines: the marks and transport state, then the selection and messages; a third
    with the output's own line (the web speaker's URL and listeners) when it has one."""

    def __init__(self, audition: AuditionController, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.audition = audition
        self._speaker_shown = ""

    def compose(self) -> ComposeResult:
        yield Static("", id="player-line", markup=False)
        yield Static("", id="player-status", markup=False)
        # the web speaker's URL on a line of its own: beside the messages, either was cut
        yield Static("", id="player-speaker", markup=False)

    def on_mount(self) -> None:
        self.call_after_refresh(self.refresh_bar)
        if self.audition.sounds:
            self.set_interval(0.25, self._tick)

    def _tick(self) -> None:
        """Follow the output: its position, and its own line when that changed."""
        self.audition.tick()
        if self.audition.speaker() != self._speaker_shown:
            self.refresh_bar()

    def _marks(self, mode: str | None) -> str:
        au = self.audition
        two_runs = au.a is not None and au.b is not None and au.a.folder != au.b.folder

        def mark(name: str, cue: Cue | None) -> str:
            if cue is None:
                return f"{name}: —"
            tag = f" ‹{session_tag(cue.folder)}›" if two_runs else ""
            return f"{name}: {cue.describe()}{tag}"

        if mode == "ab":
            return "1: ? │ 2: ?"
        text = f"{mark('A', au.a)} │ {mark('B', au.b)}"
        return f"{text} │ X: ?" if mode == "abx" else text

    def refresh_bar(self) -> None:
        if not self.is_mounted:
            return
        au = self.audition
        state = "▶" if au.playing else "⏸"
        loop = ""
        if au.loop is not None:
            loop = f" ⟳{fmt_time(au.loop[0])}–{fmt_time(au.loop[1])}"
        elif au.loop_start is not None:
            loop = f" ⟳{fmt_time(au.loop_start)}–…"
        volume = f" vol {au.volume:.0%}" if au.volume != 1.0 else ""
        blind = au.blind_state
        slot = blind.slot if blind is not None else au.active
        total = f"/{fmt_time(au.duration)}" if au.duration is not None else ""
        head = f"{state} {slot} {fmt_time(au.position)}{total}{loop}{volume}"
        if blind is not None:
            line = f"{head}  {tally_text(blind)}  {self._marks(blind.mode)}"
        else:
            gain = f" {au.levels.describe()}" if au.levels is not None else ""
            line = f"{head}  {self._marks(None)}{gain}"
        self.query_one("#player-line", Static).update(visible(line))
        sel = f"sel: {au.selection.describe()}" if au.selection else "sel: —"
        status = f"{sel}  {au.message}" if au.message else sel
        self._speaker_shown = au.speaker()
        speaker = self.query_one("#player-speaker", Static)
        speaker.display = bool(self._speaker_shown)
        speaker.update(visible(self._speaker_shown))
        self.query_one("#player-status", Static).update(visible(status))  # names from files
