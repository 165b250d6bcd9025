"""bench/RESULTS.md names the CPU's capability next to every figure (issue 27.4): each
section with a table says its CPU flags (or that they were not recorded), because bf16 is
twice as fast as fp32 on one of this project's CPUs and 36x slower on another."""

from __future__ import annotations

import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "RESULTS.md"


def sections() -> dict[str, str]:
    parts = re.split(r"^## (.+)$", RESULTS.read_text(), flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_section_with_figures_names_the_cpu_flags():
    tables = {title: body for title, body in sections().items()
              if re.search(r"^\|.*\|$", body, flags=re.MULTILINE)}
    assert len(tables) >= 15
    missing = [title for title, body in tables.items()
               if "CPU flags" not in body.replace("\n", " ")]
    assert missing == []
