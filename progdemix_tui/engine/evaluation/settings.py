"""An evaluation's options: the oracle-gain values and :class:`EvalSettings`, whose
parameters decide whether a folder can be resumed or merged."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..config import RunConfig
from ..errors import ConfigError


def gain_to_beta(gain_db: float) -> float:
    """Relative target gain in dB → β with ``y = x_target + (1-β)·acc`` (inf dB → β = 1)."""
    return 1.0 if math.isinf(gain_db) and gain_db > 0 else 1.0 - 10 ** (-gain_db / 20)


def beta_to_gain(beta: float) -> float | None:
    """β → relative target gain in dB (None for β = 1: the target alone)."""
    return None if beta >= 1.0 else max(0.0, -20 * math.log10(1.0 - beta))


def parse_oracle_gains(text: str) -> tuple[float, ...]:
    """Parse ``--oracle-gain``: dB values (``0,3,6,12``, ``inf`` for the target alone) or
    β values (``beta:0,0.5,0.9``). Returns β values, sorted, in [0, 1].
    """
    text = text.strip()
    as_beta = text.lower().startswith("beta:")
    items = [t.strip() for t in text[5:].split(",") if t.strip()] if as_beta else \
        [t.strip().removesuffix("dB").removesuffix("db").strip()
         for t in text.split(",") if t.strip()]
    if not items:
        raise ConfigError("--oracle-gain needs values, e.g. 0,3,6,12 (dB) or beta:0,0.5,0.9.")
    betas = []
    for item in items:
        try:
            value = float(item)
        except ValueError:
            raise ConfigError(f"--oracle-gain: {item!r} is not a number.") from None
        if as_beta:
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"--oracle-gain β values must be in [0, 1], not {value}.")
            betas.append(value)
        else:
            if value < 0 or math.isnan(value):
                raise ConfigError(f"--oracle-gain dB values must be ≥ 0, not {value}.")
            betas.append(gain_to_beta(value))
    return tuple(sorted(set(betas)))


@dataclass(frozen=True)
class EvalSettings:
    """Everything that determines an evaluation's numbers (device and shard excluded).

    ``config.target`` is ignored: each of ``targets`` is run in turn. ``excerpt`` is in
    seconds (None: whole tracks); ``oracle_betas`` are the β values of the oracle-gain sweep.
    """

    config: RunConfig
    targets: tuple[str, ...]
    excerpt: float | None = 30.0
    new_mixture: bool = False
    sdr: bool = False
    silence_db: float = -60.0
    oracle_betas: tuple[float, ...] = ()
    sdr_whole: bool = False  # the study's "standard SDR" (sdr.whole_sdr) beside BSSEval's

    def config_for(self, target: str) -> RunConfig:
        return self.config.with_target(target)

    def parameters(self) -> dict:
        """JSON-ready fingerprint: two evaluations agree iff their parameters are equal."""
        run_cfg = self.config.to_dict()
        run_cfg.pop("target", None)
        if run_cfg.get("preset") == "none":  # as folders made before presets existed
            run_cfg.pop("preset")
        run_cfg["separator"].pop("device", None)
        run_cfg["separator"].pop("cache", None)  # the step-0 cache changes no result
        return {"run": run_cfg, "targets": list(self.targets), "excerpt": self.excerpt,
                "new_mixture": self.new_mixture, "sdr": self.sdr,
                "silence_db": self.silence_db, "oracle_betas": list(self.oracle_betas),
                **({"sdr_whole": True} if self.sdr_whole else {})}  # old folders lack it


def differences(a: dict, b: dict, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two parameter dicts."""
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += differences(va, vb, f"{prefix}{key}.")
        elif va != vb:
            out.append(f"{prefix}{key}")
    return out
