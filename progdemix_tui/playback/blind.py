"""Blind listening tests over the two marked sources A and B (pure state, no audio).

Two modes:

- ``"abx"``: slots ``A`` and ``B`` are labelled; ``X`` is secretly A or B (drawn at random each
  trial). The listener answers which one X is; the tally counts correct answers and gives the
  probability of doing at least as well by guessing (one-sided binomial, p = 1/2).
- ``"ab"`` (blind preference): slots ``1`` and ``2`` are A and B in a random order each trial.
  The listener picks the one they prefer; the tally counts preferences per real source.

``reveal()`` shows the current trial's mapping; an answer given after it is not counted.
Every answer starts a new trial.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

BLIND_MODES = ("abx", "ab")


@dataclass(frozen=True)
class Tally:
    """Results so far. ``prefer`` counts blind-preference picks per real source name."""

    trials: int = 0
    correct: int = 0
    prefer: dict[str, int] = field(default_factory=dict)

    @property
    def p_value(self) -> float:
        """P(at least ``correct`` of ``trials`` right by chance); 1.0 with no trials."""
        n, k = self.trials, self.correct
        return sum(math.comb(n, i) for i in range(k, n + 1)) / 2 ** n if n else 1.0


@dataclass(frozen=True)
class BlindState:
    """What a UI may show: never the mapping unless ``revealed``."""

    mode: str
    trial: int
    slots: tuple[str, ...]
    slot: str  # the slot playing
    revealed: dict[str, str] | None
    tally: Tally
    history: tuple[tuple[int, str, str, bool | None], ...]  # (trial, answer, truth, correct)

    @property
    def next_slot(self) -> str:
        """The slot after the one playing (1→2→1, A→B→X→A)."""
        return self.slots[(self.slots.index(self.slot) + 1) % len(self.slots)]


class BlindTest:
    """A blind A/B or ABX session between sources ``a`` and ``b``."""

    def __init__(self, a: str, b: str, mode: str = "abx", seed: int | None = None) -> None:
        if mode not in BLIND_MODES:
            raise ValueError(f"blind mode must be one of {BLIND_MODES}, got {mode!r}")
        if a == b:
            raise ValueError("a blind test needs two different sources")
        self.a, self.b, self.mode = a, b, mode
        self._rng = random.Random(seed)
        self.slots: tuple[str, ...] = ("A", "B", "X") if mode == "abx" else ("1", "2")
        self.slot = self.slots[0]
        self.trial = 0
        self.revealed = False
        self._mapping: dict[str, str] = {}
        self._tally = Tally(prefer={a: 0, b: 0})
        self._history: list[tuple[int, str, str, bool | None]] = []
        self.new_trial()

    def new_trial(self) -> None:
        """Draw a fresh hidden assignment."""
        self.trial += 1
        self.revealed = False
        first, second = (self.a, self.b) if self._rng.random() < 0.5 else (self.b, self.a)
        if self.mode == "abx":
            self._mapping = {"A": self.a, "B": self.b, "X": first}
        else:
            self._mapping = {"1": first, "2": second}

    def source_for(self, slot: str) -> str:
        """The real source behind ``slot`` (for the player only; do not display it)."""
        try:
            return self._mapping[slot]
        except KeyError:
            raise ValueError(f"slot must be one of {self.slots}, got {slot!r}") from None

    def select(self, slot: str) -> str:
        """Play ``slot`` from now on; returns its real source (for the player only)."""
        source = self.source_for(slot)
        self.slot = slot
        return source

    def answer(self, choice: str) -> bool | None:
        """Record an answer and start a new trial.

        ABX: ``choice`` is ``"A"`` or ``"B"`` (what X is); returns whether it was right.
        Blind A/B: ``choice`` is ``"1"`` or ``"2"`` (the preferred one); returns None.
        Answers after :meth:`reveal` are not counted (returns None).
        """
        allowed = ("A", "B") if self.mode == "abx" else ("1", "2")
        if choice not in allowed:
            raise ValueError(f"answer must be one of {allowed}, got {choice!r}")
        t = self._tally
        result: bool | None = None
        if self.mode == "abx":
            truth = self._mapping["X"]
            result = self._mapping[choice] == truth
            if not self.revealed:
                self._tally = Tally(t.trials + 1, t.correct + int(result), dict(t.prefer))
        else:
            truth = self._mapping[choice]
            if not self.revealed:
                prefer = dict(t.prefer)
                prefer[truth] += 1
                self._tally = Tally(t.trials + 1, t.correct, prefer)
        self._history.append((self.trial, choice, truth, None if self.revealed else result))
        self.new_trial()
        return None if self.mode == "ab" or self._history[-1][3] is None else result

    def reveal(self) -> dict[str, str]:
        """Show the current mapping ``slot -> source``; the current trial no longer counts."""
        self.revealed = True
        return dict(self._mapping)

    @property
    def tally(self) -> Tally:
        return self._tally

    def state(self) -> BlindState:
        return BlindState(self.mode, self.trial, self.slots, self.slot,
                          dict(self._mapping) if self.revealed else None, self._tally,
                          tuple(self._history))
