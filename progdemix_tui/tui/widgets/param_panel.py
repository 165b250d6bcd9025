"""Parameter panel: every knob of a run, validated as it is typed.

Its fields are the panel rows of :data:`progdemix_tui.engine.options.OPTIONS` (label, widget
kind, choices, placeholder). Values are kept as text (see :mod:`..settings`);
:meth:`ParamPanel.plan` parses them with :func:`..run_plan.parse`. Invalid fields get the
``-invalid`` class and their reasons appear in the panel's error line; the app refuses to run
until they are fixed.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Grid, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, Select, Static

from progdemix_tui.engine.config import STEMS
from progdemix_tui.engine.options import PANEL, Option
from progdemix_tui.text import plain

from ..run_plan import RunPlan, describe_errors, field_errors, parse

NAMES = tuple(option.name for option in PANEL)
"""The panel's fields in order (their widgets' ids are ``p-<name>``)."""


FAMILY_LABELS = {"openunmix": "Open-Unmix", "roformer": "RoFormer"}
"""How the model list names a family other than demucs (demucs models go unlabelled)."""


def model_label(name: str, family: str, cached: bool) -> str:
    """The model list's line for ``name``: its family (other than demucs) and whether it runs
    offline, e.g. ``umxl · Open-Unmix (not cached: needs network)``."""
    label = FAMILY_LABELS.get(family)
    state = "cached" if cached else "not cached: needs network"
    return f"{name}{f' · {label}' if label else ''} ({state})"


def model_options() -> list[tuple[str, str]]:
    """(label, name) for the model select: known models with their family, marked cached or
    not (:func:`model_label`). RoFormers are files: the model path field, with their config."""
    from progdemix_tui.engine.models import known_models, model_status

    out = []
    for name in known_models():
        try:
            status = model_status(name)
            cached, family = status.cached, str(getattr(status, "family", "demucs"))
        except Exception:  # a broken cache entry must not break the panel
            cached, family = False, "demucs"
        out.append((model_label(name, family, cached), name))
    return out


def chosen_model(values: dict) -> str:
    """The model a run of the panel's ``values`` loads: the model file, else the select's."""
    return str(values.get("model_path") or "").strip() or str(values.get("model") or "")


def chosen_config(values: dict) -> str | None:
    """The model's own config file of the panel's ``values`` (a RoFormer's YAML), if any."""
    return str(values.get("model_config") or "").strip() or None


class ParamPanel(VerticalScroll):
    """The run parameters as compact inputs, selects and checkboxes."""

    class Changed(Message):
        """A parameter changed; ``values`` is the whole panel's state."""

        def __init__(self, values: dict) -> None:
            super().__init__()
            self.values = values

    def __init__(self, values: dict, models: list[tuple[str, str]] | None = None, *,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.initial = dict(values)
        self.targets: tuple[str, ...] = STEMS  # the target select's choices
        self.learned: dict[tuple[str, str | None], tuple[str, ...]] = {}
        """Stems of models as a run loaded them (:meth:`loaded`), by model spec: what cannot
        be read without loading (a name downloaded by the run, a checkpoint with its config)."""
        self.models = models if models is not None else model_options()

    def compose(self) -> ComposeResult:
        yield Static("", id="param-errors", markup=False)
        with Grid(id="param-grid"):
            for option in PANEL:
                yield Label(option.grid_label, classes="param-label")
                yield self._make(option)

    def _make(self, option: Option) -> Widget:
        value = self.initial.get(option.name, "")
        wid = f"p-{option.name}"
        if option.name == "model":
            options: list[tuple[str | Text, str]] = list(self.models)
            if value and value not in {v for _, v in options}:
                # a value from settings.json: shown as written, never parsed as markup
                options.append((plain(value), str(value)))
            return Select(options, value=value or options[0][1], allow_blank=False, id=wid,
                          compact=True)
        if option.kind == "choice":
            choices = option.choices
            if option.name == "target":
                choices = self.targets = self.target_choices(chosen_model(self.initial),
                                                             chosen_config(self.initial))
            return Select([(c, c) for c in choices], allow_blank=False, compact=True, id=wid,
                          value=value if value in choices else choices[0])
        if option.kind == "flag":
            return Checkbox(option.check_text, value=bool(value), id=wid, compact=True)
        return Input(str(value), placeholder=option.placeholder, id=wid, compact=True)

    def target_choices(self, model: str, config: str | None = None) -> tuple[str, ...]:
        """The target list: ``model``'s stems where they can be read without loading it
        (cached weights, a .safetensors file, a RoFormer's ``config``; htdemucs_6s adds guitar
        and piano) or a run loaded it, else the four standard stems."""
        from progdemix_tui.engine.models import model_stems

        if not model:
            return STEMS
        return self.learned.get((model, config)) or model_stems(model, config) or STEMS

    def loaded(self, model: str, config: str | None, sources: tuple[str, ...]) -> None:
        """A run loaded ``model`` (with ``config``) and it has these stems: remember them, and
        offer them as targets while the panel still names that model (a name whose stems
        were not known before its download)."""
        if not sources:
            return
        self.learned[(model, config or None)] = tuple(sources)
        values = self.values()
        if (chosen_model(values), chosen_config(values)) == (model, config or None) \
                and self._update_targets(model, config or None):
            self.post_message(self.Changed(self.values()))

    def _update_targets(self, model: str, config: str | None) -> bool:
        """Offer ``model``'s stems as targets, keeping the chosen one where it still is;
        whether the list changed."""
        select = self.query_one("#p-target", Select)
        choices = self.target_choices(model, config)
        current = select.value
        if choices == self.targets:
            return False
        self.targets = choices
        with select.prevent(Select.Changed):  # one Changed for the panel: the caller's
            select.set_options([(c, c) for c in choices])
            select.value = current if current in choices else (
                "vocals" if "vocals" in choices else choices[0])
        return True

    def values(self) -> dict:
        """The panel's current values, as stored in the settings file."""
        out: dict = {}
        for name in NAMES:
            widget = self.query_one(f"#p-{name}")
            if isinstance(widget, Select):
                out[name] = "" if widget.value is Select.NULL else str(widget.value)
            elif isinstance(widget, Checkbox):
                out[name] = bool(widget.value)
            elif isinstance(widget, Input):
                out[name] = widget.value
        return out

    def set_value(self, name: str, value: str | bool) -> None:
        """Set one parameter programmatically (tests, command line, restored sessions)."""
        widget = self.query_one(f"#p-{name}")
        if isinstance(widget, Select):
            widget.value = value
        elif isinstance(widget, Checkbox):
            widget.value = bool(value)
        elif isinstance(widget, Input):
            widget.value = str(value)

    def plan(self) -> RunPlan | dict[str, str]:
        """Parse and flag: a :class:`RunPlan`, or ``{field: reason}``."""
        result = parse(self.values())
        self._flag(result if isinstance(result, dict) else {})
        return result

    def _flag(self, errors: dict[str, str]) -> None:
        for name in NAMES:
            self.query_one(f"#p-{name}").set_class(name in errors, "-invalid")
        self._show_errors(errors)

    def _show_errors(self, errors: dict[str, str]) -> None:
        line = self.query_one("#param-errors", Static)
        line.update(describe_errors(errors) if errors else "")
        line.display = bool(errors)
        self.set_class(bool(errors), "-has-errors")

    def on_mount(self) -> None:
        self._flag(field_errors(self.values()))

    def _changed(self, name: str) -> None:
        if name in ("model", "model_path", "model_config"):
            values = self.values()
            self._update_targets(chosen_model(values), chosen_config(values))
        values = self.values()
        self._flag(field_errors(values))
        self.post_message(self.Changed(values))

    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if event.input.id and event.input.id.startswith("p-"):
            self._changed(event.input.id[2:])

    @on(Select.Changed)
    def _select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if event.select.id and event.select.id.startswith("p-"):
            self._changed(event.select.id[2:])

    @on(Checkbox.Changed)
    def _check_changed(self, event: Checkbox.Changed) -> None:
        event.stop()
        if event.checkbox.id and event.checkbox.id.startswith("p-"):
            self._changed(event.checkbox.id[2:])
