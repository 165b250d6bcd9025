"""The Hugging Face side of model loading, without torch (so it can fail fast).

A demucs name lives in the hub repository ``adefossez/<hf_repo_name(name)>`` (or
``owner/...`` for ``owner/name``) as ``name.yaml`` plus one ``SIG.safetensors`` per model.
Files come from the Hugging Face cache (``try_to_load_from_cache``: no network request);
a missing file gets one request with a short timeout and no retries, and only when that
answers does ``hf_hub_download`` fetch it. With ``HF_HUB_OFFLINE`` set nothing is requested at all.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from pathlib import Path

from .errors import ModelUnavailable
from .model_files import Bag, check_plain_name, contained, read_bag

Notify = Callable[[str], None]
DEFAULT_NAMESPACE = "adefossez"  # demucs.hf.DEFAULT_NAMESPACE
PROBE_TIMEOUT = 2.0  # seconds for the one request that tells whether the hub answers
_OWNER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}")


class NotReachable(Exception):
    """A hub file is not cached and cannot be fetched now; ``args[0]`` says why."""


def known_names() -> set[str]:
    """demucs's pretrained names (its ``remote/*.yaml``), found without importing torch."""
    spec = importlib.util.find_spec("demucs")
    if spec is None or not spec.submodule_search_locations:
        return set()
    remote = Path(next(iter(spec.submodule_search_locations))) / "remote"
    return {p.stem for p in remote.glob("*.yaml") if not p.stem.startswith("repro")}


def hf_repo_name(name: str) -> str:
    """demucs.hf.hf_repo_name (``htdemucs_ft`` → ``HTDemucs-ft``), without importing torch."""
    if name == "htdemucs":
        return "HTDemucs"
    if name.startswith("htdemucs_"):
        return "HTDemucs-" + name[len("htdemucs_"):]
    return "Demucs-" + name


def repo_for(name: str) -> tuple[str, str]:
    """``(repo_id, short name)`` for a demucs name, optionally ``owner/name``."""
    owner, short = name.split("/", 1) if "/" in name else (DEFAULT_NAMESPACE, name)
    if not _OWNER.fullmatch(owner):
        raise ModelUnavailable(f"model {name!r}: {owner!r} is not a Hugging Face user name.")
    check_plain_name(short, f"model {name!r}")
    return f"{owner}/{hf_repo_name(short)}", short


def check_known(name: str) -> None:
    """A name without a slash must be one of demucs's pretrained names."""
    from .families import OPENUNMIX_NAMES

    known = known_names()
    if "/" not in name and name not in known:
        raise ModelUnavailable(
            f"unknown model {name!r}; known: {', '.join(sorted(known | {'demo'}))}, "
            f"Open-Unmix's {', '.join(OPENUNMIX_NAMES)}, or give a .safetensors path, "
            "--repo DIR, HDEMUCS_HIGH_MUSDB(_PLUS), or a RoFormer checkpoint with "
            "--model-config FILE.yaml."
        )


def cache_dir() -> str:
    """The Hugging Face hub cache folder in use."""
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def storage(repo_id: str) -> Path:
    """The cache folder of one model repository (``models--owner--name``)."""
    from huggingface_hub.file_download import repo_folder_name

    return Path(cache_dir()) / repo_folder_name(repo_id=repo_id, repo_type="model")


def cached(repo_id: str, filename: str) -> Path | None:
    """The cached file, resolved and inside its repository's cache folder; None if absent.

    ``try_to_load_from_cache`` reads only the cache folder (``hf_hub_download`` with
    ``local_files_only`` would still build request headers, which may fetch a registry).
    """
    from huggingface_hub import try_to_load_from_cache

    try:
        path = try_to_load_from_cache(repo_id, filename)
        if not isinstance(path, str):
            return None
    except Exception as exc:
        raise ModelUnavailable(
            f"the Hugging Face cache entry for {repo_id} is broken ({reason(exc)}); "
            f"delete {storage(repo_id)} and run again."
        ) from None
    return contained(storage(repo_id), Path(path), f"cached file {filename} of {repo_id}:")


def fetch(repo_id: str, filename: str, notify: Notify) -> Path:
    """A repository file: from the cache, else downloaded after one answered probe."""
    found = cached(repo_id, filename)
    if found is not None:
        return found
    probe(repo_id, filename)
    from huggingface_hub import hf_hub_download

    notify(f"downloading {filename} from the Hugging Face repository {repo_id}…")
    try:
        hf_hub_download(repo_id, filename, etag_timeout=PROBE_TIMEOUT,
                        **progress_option(hf_hub_download, filename, notify))
    except Exception as exc:
        raise ModelUnavailable(
            f"downloading {filename} from the Hugging Face repository {repo_id} failed "
            f"({reason(exc)}); run again to resume."
        ) from None
    found = cached(repo_id, filename)
    if found is None:
        raise ModelUnavailable(f"{filename} of {repo_id} was downloaded but is not in the cache.")
    return found


class DownloadProgress(str):
    """A ``notify`` text that reports bytes so far: shown in place of the previous one
    (a status line), not as a new line. ``done`` and ``total`` (None when unknown) in bytes."""

    done: int
    total: int | None

    @classmethod
    def of(cls, filename: str, done: int, total: int | None) -> DownloadProgress:
        size = f"{done / 1e6:.1f} of {total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
        text = cls(f"downloading {filename}: {size}")
        text.done, text.total = done, total
        return text


PROGRESS_INTERVAL = 0.25  # seconds between two progress notes


def progress_option(download: Callable, filename: str, notify: Notify) -> dict:
    """``{"tqdm_class": …}`` reporting :class:`DownloadProgress` to ``notify``, where this
    huggingface_hub's ``hf_hub_download`` takes one (newer versions); else ``{}``."""
    import inspect
    import time

    if "tqdm_class" not in inspect.signature(download).parameters:
        return {}
    from huggingface_hub.utils import tqdm as hub_tqdm

    class Reporter(hub_tqdm):  # type: ignore[misc, valid-type]
        """Counts bytes instead of drawing a bar."""

        def __init__(self, *args, **kwargs) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            self.done = int(kwargs.get("initial") or 0)
            self.size = kwargs.get("total")
            self.last = 0.0

        def update(self, n: float | None = 1) -> bool | None:
            self.done += int(n or 0)
            now = time.monotonic()
            if now - self.last >= PROGRESS_INTERVAL or (self.size and self.done >= self.size):
                self.last = now
                notify(DownloadProgress.of(filename, self.done, self.size))
            return None

    return {"tqdm_class": Reporter}


def hub_errors() -> tuple[type[Exception], type[Exception]]:
    """``(EntryNotFoundError, RepositoryNotFoundError)``: in ``huggingface_hub.errors`` from
    0.25 on, in ``huggingface_hub.utils`` before (the floor, 0.20, has only those)."""
    try:
        from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError
    except ImportError:  # huggingface_hub < 0.25
        from huggingface_hub.utils import (  # type: ignore[no-redef]
            EntryNotFoundError,
            RepositoryNotFoundError,
        )
    return EntryNotFoundError, RepositoryNotFoundError


def probe(repo_id: str, filename: str) -> None:
    """One request (no retries, :data:`PROBE_TIMEOUT`) for the file's metadata.

    Raises :class:`NotReachable` when offline or unanswered, ModelUnavailable when the
    hub says the repository or file does not exist.
    """
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url

    EntryNotFoundError, RepositoryNotFoundError = hub_errors()  # noqa: N806 - classes

    if constants.HF_HUB_OFFLINE:
        raise NotReachable("HF_HUB_OFFLINE is set, so nothing is downloaded")
    try:
        get_hf_file_metadata(hf_hub_url(repo_id, filename), timeout=PROBE_TIMEOUT)
    except (RepositoryNotFoundError, EntryNotFoundError):
        raise ModelUnavailable(
            f"the Hugging Face repository {repo_id} does not exist or has no file {filename}."
        ) from None
    except Exception as exc:
        raise NotReachable(f"{constants.ENDPOINT} cannot be reached ({reason(exc)})") from None


def resolve(name: str, notify: Notify) -> tuple[str, Bag, list[Path]]:
    """``(repo_id, bag, model files)`` for a hub name, fetching what is missing.

    Raises NotReachable when a file is neither cached nor downloadable now.
    """
    check_known(name)
    repo_id, short = repo_for(name)
    if "/" in name:
        notify(f"model {name!r} is not a local file: it comes from the Hugging Face repository "
               f"{repo_id}; its files are checked like any model file.")
    bag = read_bag(fetch(repo_id, f"{short}.yaml", notify))
    return repo_id, bag, [fetch(repo_id, f"{sig}.safetensors", notify) for sig in bag.models]


def looks_like_path(spec: str) -> bool:
    """Whether ``spec`` names a file rather than a model: a file by that name exists, or it
    reads as a path (``/``, ``./``, ``../``, ``~`` first, or more than one ``/``;
    ``OWNER/NAME`` has one)."""
    return (spec.startswith(("/", "./", "../", "~")) or spec.count("/") > 1
            or Path(spec).expanduser().is_file())


def is_hub_name(spec: str, repo: object = None, config: object = None) -> bool:
    """Whether :func:`~.models.load_model` would look ``spec`` up on the hub (not with a
    ``config``, ``--model-config``: a RoFormer; nor Open-Unmix's names and model folders)."""
    from .families import OPENUNMIX_NAMES

    path = Path(spec).expanduser()
    return (repo is None and not config and spec != "demo" and spec not in OPENUNMIX_NAMES
            and not spec.startswith("HDEMUCS_HIGH_MUSDB")
            and path.suffix not in (".safetensors", ".th", ".pt", ".pth")
            and not looks_like_path(spec) and not (path / "separator.json").is_file())


def preflight(name: str, repo: object = None, trust: bool = False,
              config: object = None) -> None:
    """Fail fast, before torch is imported, when a hub model is missing and cannot be fetched.

    Checks the cache (no network) and, for a missing file, makes the one probe request;
    downloads nothing. Raises the same errors as loading would. Does nothing for other
    specs, nor with ``trust`` (loading may then fall back to demucs's legacy repo).
    """
    if trust or not is_hub_name(name, repo, config):
        return
    check_known(name)
    repo_id, short = repo_for(name)
    try:
        bag_file = cached(repo_id, f"{short}.yaml")
        if bag_file is None:
            return probe(repo_id, f"{short}.yaml")
        for sig in read_bag(bag_file).models:
            if cached(repo_id, f"{sig}.safetensors") is None:
                return probe(repo_id, f"{sig}.safetensors")
    except NotReachable as exc:
        raise not_cached_error(name, str(exc)) from None


def not_cached_error(name: str, why: str) -> ModelUnavailable:
    """One line for the CLI, and its twin with advice for the terminal app."""
    repo_id, short = repo_for(name)
    head = (f"model {name!r} (Hugging Face repository {repo_id}) is not in the cache "
            f"({cache_dir()}) and {why}.")
    connect = ("Unset HF_HUB_OFFLINE and connect once to download it" if "HF_HUB_OFFLINE" in why
               else "Connect once to download it")
    cli = (f"{head} {connect}, or place the files by hand: the repository in the Hugging Face "
           f"cache layout, or {short}.yaml plus its .safetensors files in a folder given with --repo "
           "(README: 'Offline weights'). Offline, try --model demo.")
    app = (f"{head} To run offline, pick 'demo' as the model in Params (p); or "
           f"{connect[0].lower()}{connect[1:]}, then run again.")
    return ModelUnavailable(cli, in_app=app)


def reason(exc: BaseException) -> str:
    """``Type: first line`` of an exception, whole: never cut mid-word."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
