"""Every run parameter, declared once.

Each :class:`Option` row says what a knob is called, its kind, default and choices, the
:class:`~.config.RunConfig` field it sets, its command-line flag and help, and how the TUI's
parameter panel shows it. The CLI arguments (:mod:`progdemix_tui.cli.common`), the panel
(:mod:`progdemix_tui.tui.widgets.param_panel`), the saved settings' defaults
(:mod:`progdemix_tui.tui.settings`) and the panel's text parsing
(:mod:`progdemix_tui.tui.run_plan`) are all derived from :data:`OPTIONS`. The names
:meth:`RunConfig.validate` gives invalid fields are the engine's own
(:data:`.config.FIELD_NAMES`). Adding a knob is one row here plus its engine code (the
:class:`RunConfig` field, its check and the name its check uses).

Plain Python: no Textual, no Rich, no argparse.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .config import (
    ADAPTIVE_SCORES,
    DEFAULT_SEGMENT,
    FIELD_NAMES,
    MODES,
    PRECISIONS,
    PRESETS,
    SCHEDULE_ALIASES,
    SCHEDULES,
    STEM_FORMATS,
    STEMS,
    AdaptiveConfig,
    RunConfig,
    SeparatorConfig,
    fold_half,
)
from .threads import MAX_THREADS

Kind = Literal["int", "float", "optional float", "choice", "flag", "text"]
"""How a value is typed: ``optional float`` is empty (None) or a number; a ``flag`` is a bool."""
Group = Literal["loop", "model", "io", "none"]
"""Where the flag sits on the command line: ``loop`` and ``model`` are shared by ``run`` and
``eval`` ("progressive inference", "model and device"); ``io`` is ``run``'s own input and
output group; ``none`` is not in those (the TUI's own ``--out``, or no flag at all)."""
Value = str | int | float | bool | None
"""A typed option value."""

UNSET: Any = object()  # ``Option.default`` not given: the engine field's default is used
TORCHAUDIO_NOTE = (
    "HDEMUCS_HIGH_MUSDB / HDEMUCS_HIGH_MUSDB_PLUS need the [torchaudio] extra; "
    "_PLUS was trained on the MUSDB18-HQ test set too: do not evaluate it there."
)
_SECTIONS: dict[str, object] = {"": RunConfig(), "separator": SeparatorConfig(),
                                "adaptive": AdaptiveConfig()}


def field_default(path: str) -> Value:
    """The engine's default for a dotted field path (``"separator.overlap"`` → 0.25)."""
    section, _, name = path.rpartition(".")
    value: Value = getattr(_SECTIONS[section], name)
    return value


@dataclass(frozen=True)
class Option:
    """One run parameter and every place it appears.

    ``name`` is the settings key, the panel field and the parsed argument's ``dest``;
    ``field`` the :class:`RunConfig` path it sets (None: not a config field). ``flags`` empty: not on
    the command line; ``panel`` False: not in the TUI's parameter panel. ``help`` may hold
    ``{default}``. ``panel_default`` is the panel's starting text when it differs from the
    default's text; ``short`` the panel's grid label (else ``label``); ``hint`` follows the
    engine's reason in the panel's error line.
    """

    name: str
    label: str
    kind: Kind
    field: str | None = None
    default: Value = UNSET
    choices: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    help: str = ""
    metavar: str | None = None
    group: Group = "none"
    panel: bool = True
    panel_default: str | bool | None = None
    short: str = ""
    placeholder: str = ""
    check_text: str = ""
    hint: str = ""
    aliases: Mapping[str, str] | None = None
    """Old values still accepted for a choice, mapped to their new names (read with a note)."""
    open_choices: bool = False
    """``choices`` are the usual values, not all: the loaded model decides (``--target``)."""
    demucs_flags: tuple[str, ...] = ()
    """demucs's spellings of the flag, also accepted by ``run`` (``-n/--name``, ``-d``)."""

    def __post_init__(self) -> None:
        if self.default is UNSET:
            object.__setattr__(self, "default",
                               field_default(self.field) if self.field else None)

    @property
    def help_text(self) -> str:
        """``help`` with ``{default}`` filled in."""
        return self.help.format(default=self.default)

    @property
    def panel_value(self) -> str | bool:
        """The panel's (and the settings file's) default: text, or a bool for a flag."""
        if self.panel_default is not None:
            return self.panel_default
        if isinstance(self.default, bool):
            return self.default
        return "" if self.default is None else str(self.default)

    @property
    def checked_as(self) -> str:
        """How :meth:`RunConfig.validate` names this option's field ("" when it checks none)."""
        return FIELD_NAMES.get(self.field or "", "")

    @property
    def grid_label(self) -> str:
        return self.short or self.label

    def canonical(self, value: Value) -> Value:
        """``value`` with an old name (:attr:`aliases`) replaced by its new one."""
        if self.aliases and isinstance(value, str):
            return self.aliases.get(value, value)
        return value

    def alias_note(self, old: str) -> str:
        """The one-line note shown when the old name ``old`` is used."""
        flag = self.flags[0] if self.flags else self.name
        new = (self.aliases or {}).get(old, old)
        return f"{flag} {old} is now called {new}; the old name is read as {new}."


OPTIONS: tuple[Option, ...] = (
    Option("model", "model", "text", "separator.model", metavar="NAME|PATH", group="model",
           flags=("--model",), demucs_flags=("-n", "--name"),
           help="demucs model name (default {default}), 'demo', a .safetensors or .th file, "
                f"or a torchaudio bundle. {TORCHAUDIO_NOTE}"),
    Option("model_path", "model path", "text", default="",
           placeholder=".safetensors path (overrides)"),
    Option("repo", "repo", "text", "separator.repo", flags=("--repo",), metavar="DIR",
           group="model", panel=False,
           help="local demucs repo folder with NAME.yaml and SIG.safetensors (or SIG.th) files"),
    Option("trust_checkpoint", "trust checkpoint", "flag", "separator.trust_checkpoint",
           flags=("--trust-checkpoint",), group="model", panel=False,
           help="allow pickled .th checkpoints (loading them runs code from the file)"),
    Option("model_config", "model yaml", "text", "separator.model_config",
           flags=("--model-config",), metavar="FILE", group="model",
           placeholder="a RoFormer checkpoint's YAML",
           help="the model's own config: a RoFormer checkpoint's training YAML "
                "(docs/models.md)"),
    Option("device", "device", "text", "separator.device", flags=("--device",), group="model",
           demucs_flags=("-d",),
           help="auto|cpu|cuda|cuda:N|mps (default {default}: CUDA, then MPS, then CPU)"),
    Option("half", "half precision", "flag", default=False, flags=("--half",),
           group="model", panel=False,
           help="same as --precision fp16 (CUDA only; read as that when parsed)"),
    Option("precision", "precision", "choice", "separator.precision", choices=PRECISIONS,
           flags=("--precision",), group="model",
           help="model precision (default {default}: bf16 where the CPU or GPU computes it "
                "natively, else fp32; fp16 is CUDA only)"),
    Option("target", "target", "choice", "target", choices=STEMS, flags=("--target", "--targets"), group="loop", metavar="STEM", open_choices=True,
           help="stem to refine, one of the model's (default {default}; htdemucs_6s adds guitar, piano)"),
    Option("steps", "steps", "int", "steps", flags=("--steps",),
           group="loop", help="N progressive steps (N+1 results)"),
    Option("mode", "mode", "choice", "mode", choices=MODES, flags=("--mode",), group="loop", help="how y_n is built (default {default})"),
    Option("schedule", "schedule", "choice", "schedule", choices=SCHEDULES,
           flags=("--schedule",), group="loop", aliases=SCHEDULE_ALIASES,
           help="β schedule (default {default}); flat: β_max at every step (formerly "
                "'constant'); zero: β = 0, with add-sources the study's 'constant'"),
    Option("beta_max", "β max", "float", "beta_max", flags=("--beta-max",), group="loop", help="largest β (default {default})"),
    Option("preset", "preset", "choice", "preset", choices=PRESETS, flags=("--preset",),
           group="loop", panel=False,
           help="study: the study's code exactly (one pass over the whole excerpt without "
                "normalisation, β = n/N, steps 0…N−1, its excerpt, new mixture, oracle "
                "mixture and sample std; docs/study.md); other knobs keep their defaults"),
    Option("adaptive_k", "adaptive K", "int", "adaptive.candidates", default=0,
           flags=("--adaptive",), metavar="K", group="loop",
           help="adaptive β with K candidates per step (default off)",
           placeholder="0 = off", hint=" (0 = off)"),
    Option("adaptive_score", "adaptive score", "choice", "adaptive.score",
           choices=ADAPTIVE_SCORES, flags=("--adaptive-score",),
           group="loop", short="adapt score",
           help="oracle (SI-SDR vs references), decorrelation (reference-free), "
                "or auto (oracle when references exist)"),
    Option("adaptive_chunk", "adaptive chunk", "float", "adaptive.chunk_seconds",
           flags=("--adaptive-chunk",), metavar="SEC",
           group="loop", panel=False, help="adaptive selection chunk length (default {default:g} s)"),
    Option("early_stop", "early stop", "optional float", "early_stop_db",
           flags=("--early-stop",), metavar="DB",
           group="loop", help="stop when successive target estimates agree above DB SI-SDR",
           placeholder="off (dB)", hint=" (empty = off)"),
    Option("wiener", "Wiener", "flag", "wiener", flags=("--wiener",), group="loop",
           help="Wiener post-filter on the target", check_text="post-filter target"),
    Option("loudness_match", "loudness match", "flag", "loudness_match",
           flags=("--loudness-match",), group="loop", short="loudness",
           help="match y_n's loudness to the original mixture", check_text="match y_n to y"),
    Option("clip_guard", "clip guard", "flag", "clip_guard", flags=("--no-clip-guard",),
           group="loop", panel=False, help="do not rescale y_n when it exceeds ±1"),
    Option("segment", "segment", "optional float", "separator.segment", flags=("--segment",), metavar="SEC", group="model",
           help=f"chunk length in seconds (default {DEFAULT_SEGMENT:g}, capped by the model)",
           placeholder="default (s)", hint=" (empty = default)"),
    Option("overlap", "overlap", "optional float", "separator.overlap", flags=("--overlap",),
           group="model", help="chunk overlap, 0 to <1 (default: the model's: 0.25 for "
                               "demucs, a RoFormer config's own)",
           placeholder="model's default", hint=" (empty = the model's)"),
    Option("shifts", "shifts", "int", "separator.shifts", flags=("--shifts",), group="model",
           help="random-shift averaging passes (default {default}; demucs CLI uses 1)"),
    Option("batch_chunks", "batch chunks", "int", "separator.batch_chunks",
           flags=("--batch-chunks",), metavar="N", group="model", panel=False,
           help="chunks separated in one forward pass (default {default}: by device, 1 on "
                "the CPU, by free memory on CUDA); the result equals one at a time to float "
                "tolerance"),
    Option("seed", "seed", "int", "separator.seed", flags=("--seed",), group="model",
           panel=False, help="seed for shifts (default {default})"),
    Option("cache", "step-0 cache", "flag", "separator.cache", flags=("--no-cache",),
           group="model", panel=False,
           help="do not read or write the step-0 cache (step 0 is separated again)"),
    Option("threads", "threads", "int", flags=("--threads",), metavar="N", group="model",
           panel=False, help=f"CPU threads for torch, 1 to {MAX_THREADS} (default: $OMP_NUM_THREADS, "
                "else the CPUs this process may use minus one, at least 1)"),
    Option("start", "start", "optional float", default=None, flags=("--start",), metavar="SEC",
           group="io", help="excerpt start (default 0; with --preset study on a track folder: "
                            "the study's onset)", panel_default="0"),
    Option("duration", "duration", "optional float", flags=("--duration",), metavar="SEC",
           group="io", help="excerpt length (default: all)", panel_default="30",
           placeholder="whole file (s)"),
    Option("out", "output folder", "text", flags=("--out",), metavar="DIR",
           help="sessions folder (saved as last used)", panel_default="sessions",
           short="sessions"),
    Option("stem_format", "stem format", "choice", default="flac", choices=STEM_FORMATS,
           flags=("--stem-format",), group="io", short="store as",
           help="how step audio is stored (flac: 24-bit, wav: float32)"),
)
"""Every run parameter, in the panel's order; within a command-line group, in its order."""

OPTION: dict[str, Option] = {option.name: option for option in OPTIONS}
"""The options by name."""
PANEL: tuple[Option, ...] = tuple(option for option in OPTIONS if option.panel)
"""The parameter panel's fields, in order."""
BY_FIELD: dict[str, Option] = {option.field: option for option in OPTIONS if option.field}
"""The option that sets each :class:`RunConfig` field path."""


def run_config(values: Mapping[str, Value]) -> RunConfig:
    """A :class:`RunConfig` (not validated) from typed values by option name.

    Options missing from ``values`` keep the engine's defaults; ``adaptive_k`` 0 turns adaptive
    β off (``adaptive`` None); ``half`` is read as ``precision`` fp16 (:func:`.config.fold_half`:
    :class:`~.errors.ConfigError` beside another precision).
    """
    if values.get("half"):
        values = {**values, "precision": fold_half(True, str(values.get("precision", "auto")))}
    tree: dict[str, Any] = {"separator": {}, "adaptive": {}}
    for name, value in values.items():
        path = OPTION[name].field
        if path is None:
            continue
        section, _, key = path.rpartition(".")
        (tree[section] if section else tree)[key] = value
    if not tree["adaptive"].get("candidates"):
        tree["adaptive"] = None
    return RunConfig.from_dict(tree)
