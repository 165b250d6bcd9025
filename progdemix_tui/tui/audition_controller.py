"""What the player bar shows and the listening keys change: the selection, the A and B marks,
what plays, position, loop, volume and blind tests. No Textual here.

:class:`AuditionController` keeps that state, loads marked cues (through ``run_in_thread``:
the app's thread worker) and drives an :class:`.audition.AuditionBackend`. Its host says how
to run a load in a thread and how to get back to the UI's thread; ``changed()`` is called
after every change (the bar redraws). Without an audio device it says so once and keeps
working: marks, loop, blind tests and A/B clip export still do.

Blind tests are the playback package's (:class:`progdemix_tui.playback.BlindTest`, held by
the backend, the one place of their state): ``"ab"`` hides A and B as slots 1 and 2 in a
random order per trial (answer: the one you prefer); ``"abx"`` keeps A and B and adds X,
secretly one of them (answer: what X is). The bar shows the slot playing and the tally,
never the mapping until revealed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from progdemix_tui.formatting import fmt_time
from progdemix_tui.playback import BlindState, LevelMatch

from .audition import SOURCES, AuditionBackend, Cue, NullBackend, load_cue

BLIND_HINT = {"ab": "blind A/B: x 1↔2 · 1/2 = prefer · m reveals",
              "abx": "ABX: x A→B→X · 1 = X is A, 2 = X is B · M reveals"}


def _in_a_thread(fn: Callable[[], None]) -> None:
    threading.Thread(target=fn, daemon=True, name="audition-load").start()


def _at_once(fn: Callable[..., object], *args: object) -> None:
    fn(*args)


class AuditionController:
    """The audition's state and its transitions (every listening key is one method).

    ``run_in_thread(fn)`` runs a load (default: a daemon thread); ``call_in_ui(fn, *args)``
    brings its result back to the UI's thread (default: at once); ``changed()`` is called
    after every change.
    """

    def __init__(self, backend: AuditionBackend | None = None, *,
                 changed: Callable[[], None] | None = None,
                 run_in_thread: Callable[[Callable[[], None]], object] | None = None,
                 call_in_ui: Callable[..., object] | None = None) -> None:
        self.backend: AuditionBackend = backend or NullBackend()
        self.changed = changed or (lambda: None)
        self.run_in_thread = run_in_thread or _in_a_thread
        self.call_in_ui = call_in_ui or _at_once
        self.selection: Cue | None = None
        self.stem: str | None = None  # the stem selections are of (None: the run's target)
        self.source = "estimate"  # what of it (:data:`.audition.SOURCES`)
        self.a: Cue | None = None
        self.b: Cue | None = None
        self.active = "A"
        self.playing = False
        self.position = 0.0
        self.duration: float | None = None
        self.loop: tuple[float, float] | None = None
        self.loop_start: float | None = None
        self.volume = 1.0
        self.loading = False  # A/B being read and level-matched
        self.levels: LevelMatch | None = None
        self._generation = 0  # of the marks: a load for older marks never lands
        self._load_lock = threading.Lock()
        self._play_on_load = False  # Space with nothing marked: play once A is loaded
        self.message = "" if self.backend.available else f"{self.backend.reason}: " \
            "marks work; export A/B clips with e"

    # ------------------------------------------------------------------ state

    def select(self, cue: Cue | None) -> None:
        self.selection = cue
        self.changed()

    def choose(self, folder: Path, step: int, target: str) -> None:
        """Select ``step`` of the session ``folder``: the chosen stem (else ``target``) and
        source."""
        self.select(Cue(folder, step, self.stem or target, self.source))

    def cycle_stem(self, sources: tuple[str, ...], target: str) -> None:
        """The next of ``sources`` (the session's stems); the selection follows."""
        current = self.stem or target
        self.stem = sources[(sources.index(current) + 1) % len(sources)] \
            if current in sources else sources[0]
        self._reselect(target)

    def cycle_source(self, target: str) -> None:
        """The next audition source (estimate, y_n, mixture…); the selection follows."""
        self.source = SOURCES[(SOURCES.index(self.source) + 1) % len(SOURCES)]
        self._reselect(target)

    def _reselect(self, target: str) -> None:
        if self.selection is not None:
            self.choose(self.selection.folder, self.selection.step, target)

    @property
    def sounds(self) -> bool:
        """Whether there is an output to play through (else marks, loop, blind tests and
        the A/B clips' export still work)."""
        return self.backend.available

    @property
    def blind_state(self) -> BlindState | None:
        """The running blind test as the backend holds it (None: none running)."""
        try:
            return self.backend.blind_state()
        except Exception:  # a backend error must not break drawing the bar
            return None

    @property
    def blind(self) -> bool:
        return self.blind_state is not None

    @property
    def slot(self) -> str | None:
        """The blind slot playing (None outside a blind test)."""
        state = self.blind_state
        return None if state is None else state.slot

    @property
    def gain_b_db(self) -> float | None:
        """B's level-matching gain relative to A (dB), once A and B are loaded."""
        return None if self.levels is None else self.levels.relative_db

    def speaker(self) -> str:
        """Where the output plays when it says (the web speaker's URL and listeners), or ''."""
        describe = getattr(self.backend, "speaker", None)
        try:
            return (describe() or "") if describe is not None else ""
        except Exception:  # a backend error must not break drawing the bar
            return ""

    # ------------------------------------------------------------------ marks, loading

    def mark(self, which: str) -> Cue | None:
        """Mark the selection as A or B; returns the marked cue."""
        if self.blind:
            self.say("a blind test is running: m reveals and ends it first")
            return None
        if self.selection is None:
            self.say("select a step in the timeline first")
            return None
        if which == "A":
            self.a = self.selection
        else:
            self.b = self.selection
        self.levels = None
        self.loading = True
        self._generation += 1
        self.changed()
        a, b, generation = self.a, self.b, self._generation
        self.run_in_thread(lambda: self._load(a, b, generation))
        return self.selection

    def _load(self, a: Cue | None, b: Cue | None, generation: int) -> None:
        """Read A and B and load them in the backend (in a thread); a load for marks made
        before the latest one is dropped (before it reaches the backend, and before it lands)."""
        try:
            xa, rate = load_cue(a) if a is not None else (None, 0)
            xb, rate_b = load_cue(b) if b is not None else (None, 0)
            rate = rate or rate_b
            with self._load_lock:  # the check and the load at once: the newest load wins
                if generation != self._generation:
                    return
                levels = self.backend.load(xa, xb, rate)
                label = getattr(self.backend, "set_labels", None)  # e.g. the web page
                if label is not None:
                    label({slot: cue.describe() for slot, cue in (("A", a or b), ("B", b or a))
                           if cue is not None})
        except Exception as exc:  # unreadable files, device errors: report, keep going
            self.call_in_ui(self._load_failed, generation, f"cannot load A/B: {exc}")
            return
        lengths = [x.shape[-1] for x in (xa, xb) if x is not None]
        self.call_in_ui(self.loaded, levels, min(lengths) / rate, generation)

    def _load_failed(self, generation: int, text: str) -> None:
        if generation == self._generation:
            self._play_on_load = False
            self.loaded(None, self.duration, generation)
            self.say(text)

    def loaded(self, levels: LevelMatch | None, duration: float | None,
               generation: int | None = None) -> None:
        """A and B are loaded in the backend, with these level-matching gains (ignored
        when ``generation`` is not the latest marks')."""
        if generation is not None and generation != self._generation:
            return
        self.levels, self.duration, self.loading = levels, duration, False
        self.changed()
        if self._play_on_load and not self.playing:
            self._play_on_load = False
            self.toggle_play()

    # ------------------------------------------------------------------ transport

    def toggle_ab(self) -> str:
        """Switch A↔B; in a blind test, go to the next slot (1↔2, or A→B→X)."""
        if (state := self.blind_state) is not None:
            slot = state.next_slot
            self._safe(self.backend.select_slot, slot)
            self.changed()
            return slot
        if self.a is None or self.b is None:
            self.say("x switches between A and B: mark both first (a, b)")
            return self.active
        self.active = "B" if self.active == "A" else "A"
        self._safe(self.backend.select, self.active)
        self.changed()
        return self.active

    def _unmarked(self) -> str | None:
        """Why nothing can play: no step selected, or no A/B mark (None: marked)."""
        if self.a is None and self.b is None and self.selection is None:
            return "nothing to play: select a step, mark it with a or b"
        if self.a is None and self.b is None:
            return "mark A (a) and/or B (b) to play"
        return None

    def toggle_play(self) -> bool:
        """Play or pause; with nothing marked, the selected step is marked A and plays
        once loaded (the first listen is one key)."""
        if self.a is None and self.b is None and self.selection is not None \
                and not self.blind:
            self._play_on_load = self.mark("A") is not None
            return False
        if (problem := self._unmarked()) is not None:
            self.say(problem)
            return False
        if not self.backend.available:  # no ▶ with a clock that never moves
            self.say(f"{self.backend.reason}: nothing sounds; [ ] and g move the position, "
                     "e exports A/B clips")
            return False
        self.playing = not self.playing
        try:
            if self.playing:
                self.backend.play()
            else:
                self.backend.pause()
        except Exception as exc:  # AudioUnavailable and friends: say it, keep working
            self.playing = False
            self.say(f"no sound: {str(exc).splitlines()[0][:120]} — export A/B clips with e")
            return False
        self.changed()
        return self.playing

    def seek(self, delta: float) -> None:
        top = self.duration if self.duration is not None else float("inf")
        self.position = min(max(0.0, self.position + delta), top)
        self._safe(self.backend.seek, self.position)
        self.changed()

    def goto_problem(self) -> str | None:
        """Why there is no position to go to yet (None: A/B are loaded, their length known)."""
        if (problem := self._unmarked()) is not None:
            return problem
        if self.loading:
            return "A/B are still loading: try again in a moment"
        if self.duration is None:
            return "nothing loaded to play: mark A (a) or B (b) again"
        return None

    def goto(self, seconds: float) -> str | None:
        """Seek to ``seconds``; a loop not containing it is cleared (the typed position
        wins). Returns the note saying so, or None."""
        note = None
        if self.loop is not None and not self.loop[0] <= seconds < self.loop[1]:
            lo, hi = self.loop
            note = f"loop {fmt_time(lo)}–{fmt_time(hi)} cleared: {fmt_time(seconds)} is outside it"
            self.loop, self.loop_start = None, None
            self._safe(self.backend.set_loop, None)
        top = self.duration if self.duration is not None else float("inf")
        self.position = min(max(0.0, seconds), top)
        self._safe(self.backend.seek, self.position)
        if note is not None:
            self.message = note
        self.changed()
        return note

    def stop(self) -> None:
        """Stop and rewind to the loop start (or the beginning)."""
        self.playing = False
        self.position = self.loop[0] if self.loop is not None else 0.0
        self._safe(self.backend.stop)
        self.changed()

    def change_volume(self, delta: float) -> None:
        """Volume in steps, from 0 to 200 %."""
        self.volume = round(min(2.0, max(0.0, self.volume + delta)), 2)
        self._safe(self.backend.set_volume, self.volume)
        self.changed()

    def toggle_loop(self) -> None:
        """First press: loop start here; second: loop end here; third: clear."""
        if self.loop is None and self.loop_start is None \
                and (problem := self._unmarked()) is not None:
            self.say(f"loop: {problem}")
            return
        if self.loop is not None:
            self.loop, self.loop_start = None, None
        elif self.loop_start is None:
            self.loop_start = self.position
        else:
            lo, hi = sorted((self.loop_start, self.position))
            if hi - lo < 0.1:
                hi = lo + 5.0
            self.loop, self.loop_start = (lo, hi), None
        self._safe(self.backend.set_loop, self.loop)
        self.changed()

    def tick(self) -> None:
        """Poll the backend's position (the bar's timer, while an output exists)."""
        try:
            pos = self.backend.position()
        except Exception:  # the device went away; keep the last position
            return
        if pos is not None and abs(pos - self.position) > 0.05:
            self.position = pos
            self.changed()

    # ------------------------------------------------------------------ blind tests

    def start_blind(self, mode: str = "ab") -> str:
        """Start a blind test (``"ab"`` preference or ``"abx"``) over the marked A and B."""
        if self.blind:
            return self.reveal_blind()
        if self.a is None or self.b is None:
            return self._said("blind test: mark A and B first (a, b)")
        if self.loading:
            return self._said("blind test: A and B are still loading, try again")
        try:
            self.backend.start_blind(mode)
        except Exception as exc:  # nothing loaded (a failed load), a player error
            return self._said(f"cannot start a blind test: {exc}")
        return self._said(BLIND_HINT[mode])

    def answer(self, key: str) -> str:
        """Key ``1`` or ``2``: prefer slot 1/2 (blind A/B), or X is A/B (ABX)."""
        if (state := self.blind_state) is None:
            return self._said("1/2 answer a blind test: m starts one (M: ABX)")
        mode = state.mode
        choice = key if mode == "ab" else {"1": "A", "2": "B"}[key]
        trial = state.trial
        try:
            right = self.backend.blind_answer(choice)
        except Exception as exc:
            return self._said(f"blind test: {exc}")
        if mode == "abx":
            verdict = "not counted (revealed)" if right is None else \
                ("right" if right else "wrong")
            text = f"trial {trial}: X is {choice}? {verdict} · new trial"
        else:
            text = f"trial {trial}: you preferred {choice} · new trial, new order"
        return self._said(text)

    def reveal_blind(self) -> str:
        """Reveal the current trial (which slot was which), end the test, keep the tally."""
        if (state := self.blind_state) is None:
            return self._said("no blind test running: m starts one (M: ABX)")
        try:
            mapping = self.backend.reveal()
            state = self.backend.blind_state() or state
        except Exception as exc:
            mapping = {}
            self.say(f"blind test: {exc}")
        self._safe(self.backend.stop_blind)
        real = mapping.get(state.slot, self.active)
        if real in ("A", "B"):
            self.active = real
            self._safe(self.backend.select, real)

        def desc(which: str) -> str:
            cue = self.a if which == "A" else self.b
            return f"{which} ({cue.describe()})" if cue else which

        t = state.tally
        if state.mode == "abx":
            was = f"X was {desc(mapping['X'])}" if "X" in mapping else "X not revealed"
            score = f"{t.correct}/{t.trials} right, p = {t.p_value:.3f}"
        else:
            was = (f"1 was {desc(mapping['1'])}, 2 was {desc(mapping['2'])}"
                   if "1" in mapping else "not revealed")
            score = (f"{t.trials} trials: preferred A {t.prefer.get('A', 0)}×, "
                     f"B {t.prefer.get('B', 0)}×")
        return self._said(f"revealed: {was} · {score}")

    # ------------------------------------------------------------------ messages

    def _said(self, text: str) -> str:
        self.say(text)
        return text

    def _safe(self, fn: Callable[..., object], *args: object) -> None:
        try:
            fn(*args)
        except Exception as exc:  # a device error must not take the app down
            self.say(f"audio: {str(exc).splitlines()[0][:120] if str(exc) else exc!r}")

    def say(self, text: str) -> None:
        self.message = text
        self.changed()
