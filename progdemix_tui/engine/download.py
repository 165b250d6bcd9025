"""Fetching a hub model ahead of time, for machines that will run offline.

:func:`download` goes through the same code as loading (:func:`.hub.resolve`: the cache
first, one probe, then ``hf_hub_download`` from ``HF_ENDPOINT``), so a model fetched here
loads later without a network. With ``to``, the bag file and its ``.safetensors`` are also
copied (atomically) into a folder usable with ``--repo``. No torch needed.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import hub
from .errors import ModelUnavailable, OutputError
from .files import atomic_path


@dataclass(frozen=True)
class Downloaded:
    """Where a model's files are: ``files`` (bag first) and the repository they came from."""

    name: str
    repo_id: str
    files: list[Path]


def download(name: str, to: str | Path | None = None,
             notify: Callable[[str], None] = lambda _: None) -> Downloaded:
    """Fetch hub model ``name`` into the Hugging Face cache (and copy it into ``to``).

    Raises :class:`ModelUnavailable` (unknown name, unreachable hub: one line) or
    :class:`OutputError` (``to`` cannot be written).
    """
    if not hub.is_hub_name(name):
        raise ModelUnavailable(f"{name!r} is not a hub model name (known: "
                               f"{', '.join(sorted(hub.known_names()))}); nothing to download.")
    if to is not None and (not str(to).strip() or "\0" in str(to)):
        raise OutputError(f"--to {str(to)!r} is not a folder name; give a folder (--to weights), "
                          "or leave --to out to fetch into the Hugging Face cache only.")
    if to is not None and Path(to).exists() and not Path(to).is_dir():
        raise OutputError(f"--to {to} exists and is not a folder; choose another folder.")
    try:
        repo_id, bag, files = hub.resolve(name, notify)
    except hub.NotReachable as exc:
        raise ModelUnavailable(str(hub.not_cached_error(name, str(exc)))) from None
    _, short = hub.repo_for(name)
    bag_file = hub.cached(repo_id, f"{short}.yaml")
    assert bag_file is not None  # resolve fetched it
    paths = [bag_file, *files]
    if to is None:
        return Downloaded(name, repo_id, paths)
    folder = Path(to)
    copied = []
    for source, target in zip(paths, [f"{short}.yaml", *(f"{sig}.safetensors"
                                                          for sig in bag.models)], strict=True):
        with atomic_path(folder / target) as tmp:
            shutil.copyfile(source, tmp)
        copied.append(folder / target)
    return Downloaded(name, repo_id, copied)


def remote_size(name: str) -> int:
    """Bytes of hub model ``name``'s weights, asked of the hub (its small bag file is fetched
    into the cache; the weights are not). :class:`ModelUnavailable` when that cannot be known
    now (offline, unreachable)."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    try:
        repo_id, short = hub.repo_for(name)
        bag = hub.read_bag(hub.fetch(repo_id, f"{short}.yaml", lambda _: None))
        total = 0
        for sig in bag.models:
            hub.probe(repo_id, f"{sig}.safetensors")
            meta = get_hf_file_metadata(hf_hub_url(repo_id, f"{sig}.safetensors"),
                                        timeout=hub.PROBE_TIMEOUT)
            if meta.size is None:
                raise hub.NotReachable(f"the hub gave no size for {sig}.safetensors")
            total += int(meta.size)
    except hub.NotReachable as exc:
        raise ModelUnavailable(str(exc)) from None
    return total
