"""bench/gpu_wheels.sh gathers what a fresh GPU machine lacks: every dependency of the
package is either in the GPU image (its IMAGE_HAS list) or among its wheels, so a dependency
added later cannot break the prepared GPU call unnoticed (issue 27.2)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def names(text: str) -> set[str]:
    return {re.sub(r"[-_.]+", "-", re.split(r"[<>=!~\[; ]", item, maxsplit=1)[0]).lower()
            for item in text.split()}


def listed(variable: str) -> set[str]:
    script = (ROOT / "bench" / "gpu_wheels.sh").read_text()
    found = re.search(rf'^{variable}="([^"]*)"', script, flags=re.MULTILINE)
    assert found, variable
    return names(found.group(1))


def test_every_dependency_is_in_the_image_or_a_wheel():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    needed = names(" ".join(d.replace(" ", "") for d in project["dependencies"]))
    image, wheels = listed("IMAGE_HAS"), listed("WHEELS")
    assert image & wheels == set()
    assert needed - image - wheels == set()
    script = (ROOT / "bench" / "gpu_wheels.sh").read_text()
    pins = re.search(r'^WHEELS="([^"]*)"', script, flags=re.MULTILINE)
    assert pins and all(re.fullmatch(r"[\w.-]+==[\w.]+", w) for w in pins.group(1).split())
