#!/usr/bin/env bash
# The wheels bench/gpu_check.py needs on a fresh GPU machine (no network there), into .whl/
# in the repository root, ignored by git; the device call carries .whl (bench/RESULTS.md,
# "The prepared call"). Only what the GPU machine's image lacks (IMAGE_HAS: the packages this
# project uses that /work/.library/device/KINDS.md lists there), for its Python 3.12 on
# x86-64, at the versions this project's tests ran with (sphn 0.2.1 has no cp312 wheel:
# 0.2.0). About 20 MB. tests/unit/test_gpu_wheels.py checks that every dependency in
# pyproject.toml is in one of the two lists.
#   bash bench/gpu_wheels.sh   [PYTHON=python3 by default: any python with pip]
set -euo pipefail
IMAGE_HAS="torch numpy scipy safetensors huggingface-hub rich pyyaml einops tqdm
  markdown-it-py mdurl pygments typing-extensions"
WHEELS="demucs==4.1.0 julius==0.2.8 lameenc==1.9.0 sphn==0.2.0 soundfile==0.14.0
  sounddevice==0.5.6 cffi==2.1.1 pycparser==3.12 pyloudnorm==0.2.0 platformdirs==4.14.9
  textual==8.2.8 textual-plotext==1.0.1 plotext==5.3.2 mdit-py-plugins==0.7.0
  linkify-it-py==2.2.0 uc-micro-py==2.0.0"
cd "$(git rev-parse --show-toplevel)"
exclude="$(git rev-parse --git-common-dir)/info/exclude"
grep -qxF '/.whl/' "$exclude" 2>/dev/null || echo '/.whl/' >>"$exclude"
# shellcheck disable=SC2086  # WHEELS is a list
"${PYTHON:-python3}" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux1_x86_64 -d .whl $WHEELS
ls .whl
du -sh .whl
