"""A local demucs repo folder (``--repo DIR``): ``NAME.yaml`` bag files and
``SIG.safetensors`` or ``SIG[-CHECKSUM].th`` model files, each resolving inside the folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import ModelUnavailable, UntrustedCheckpoint
from ..hub import reason
from ..model_files import Bag, check_plain_name, contained, load_checked_safetensors_files, read_bag
from .base import LoadedModel, ModelRequest, ModelShape, ModelStatus
from .demucs_family import make_bag, unwrap, wrap
from .weights import safetensors_shape, safetensors_sources


class RepoSource:
    """Names looked up in the ``--repo`` folder."""

    offered = False

    def handles(self, request: ModelRequest) -> bool:
        return request.repo is not None

    def names(self) -> tuple[str, ...]:
        return ()

    def status(self, name: str, with_sources: bool = False) -> ModelStatus:
        raise ModelUnavailable(f"{name!r}: a repo model's status needs its folder (list_repo).")

    def shape(self, request: ModelRequest) -> ModelShape | None:
        assert request.repo is not None
        try:
            files = _files(request.spec, request.repo)
        except ModelUnavailable:
            return None  # loading says what is wrong
        return safetensors_shape(files, sum(f.stat().st_size for f in files))

    def load(self, request: ModelRequest) -> LoadedModel:
        """``name`` from a local demucs repo folder; every file must resolve inside it."""
        name, repo = request.spec, request.repo
        assert repo is not None
        if not repo.is_dir():
            raise ModelUnavailable(f"--repo {repo} is not a folder.")
        check_plain_name(name, f"model name for --repo {repo}")
        bag = _bag(name, repo)
        files = [_repo_model_file(repo, sig, name, request.trust_checkpoint)
                 for sig in bag.models]
        safe = iter(load_checked_safetensors_files(
            [f for f in files if f.suffix == ".safetensors"]))
        modules = [next(safe) if f.suffix == ".safetensors" else _load_repo_pickle(repo, sig, f)
                   for sig, f in zip(bag.models, files, strict=True)]
        return wrap(name, unwrap(make_bag(modules, bag, str(repo))), str(repo))


def _bag(name: str, repo: Path) -> Bag:
    """``NAME.yaml``'s bag, else a bag of the one model ``name``."""
    bag_file = repo / f"{name}.yaml"
    if bag_file.is_file() or bag_file.is_symlink():
        return read_bag(contained(repo, bag_file, "bag file"))
    return Bag((name,))


def _files(name: str, repo: Path) -> list[Path]:
    """The model files of ``name`` in ``repo``, checked as a load checks them."""
    if not repo.is_dir():
        raise ModelUnavailable(f"--repo {repo} is not a folder.")
    check_plain_name(name, f"model name for --repo {repo}")
    return [find_repo_file(repo, sig, name) for sig in _bag(name, repo).models]


def _repo_model_file(repo: Path, sig: str, name: str, trust: bool) -> Path:
    """The file for ``sig`` in ``repo`` (safetensors first), refused if it leads outside."""
    file = find_repo_file(repo, sig, name)
    if file.suffix == ".th" and not trust:
        raise UntrustedCheckpoint(
            f"{file} is a pickled checkpoint, and loading it runs code from the file; "
            "pass --trust-checkpoint if you trust its source."
        )
    return file


def find_repo_file(repo: Path, sig: str, name: str) -> Path:
    """``SIG.safetensors`` (resolved), else the first ``SIG[-CHECKSUM].th``, in ``repo``;
    ModelUnavailable if none, or if a candidate leads outside ``repo``."""
    safe = repo / f"{sig}.safetensors"
    if safe.is_file() or safe.is_symlink():
        return contained(repo, safe, "model file")
    pickled = sorted(repo.glob(f"{sig}.th")) + sorted(repo.glob(f"{sig}-*.th"))
    if not pickled:
        raise ModelUnavailable(
            f"model {name!r} not found in {repo}: expected {name}.yaml and "
            f"{sig}.safetensors (or {sig}.th); see README 'Offline weights'."
        )
    for file in pickled:
        contained(repo, file, "model file")
    return pickled[0]


def _load_repo_pickle(repo: Path, sig: str, file: Path) -> torch.nn.Module:
    """A trusted pickled checkpoint through demucs's LocalRepo (it verifies the checksum)."""
    from demucs.pretrained import get_model

    try:
        return get_model(sig, repo=repo)
    except Exception as exc:
        raise ModelUnavailable(f"{file} could not be loaded ({reason(exc)}).") from None


@dataclass(frozen=True)
class RepoListing:
    """The models of a local repo folder, and one line per entry that is not usable."""

    models: list[ModelStatus]
    skipped: list[str]


def list_repo(repo: str | os.PathLike) -> RepoListing:
    """The models ``--repo REPO`` can load: each ``NAME.yaml`` bag, then each
    ``SIG.safetensors`` or ``SIG.th`` no bag names. Checked as a load checks them (plain
    names, files inside the folder, safetensors metadata), but nothing is built or unpickled."""
    folder = Path(repo)
    if not folder.is_dir():
        raise ModelUnavailable(f"--repo {folder} is not a folder.")
    models: list[ModelStatus] = []
    skipped: list[str] = []
    used: set[str] = set()
    for bag_file in sorted(folder.glob("*.yaml")):
        try:
            check_plain_name(bag_file.stem, f"bag file {bag_file}")
            sigs = read_bag(contained(folder, bag_file, "bag file")).models
            files = [find_repo_file(folder, sig, bag_file.stem) for sig in sigs]
            models.append(_repo_status(bag_file.stem, files, folder))
        except ModelUnavailable as exc:
            skipped.append(str(exc))
            continue
        used.update(sigs)
    for file in sorted([*folder.glob("*.safetensors"), *folder.glob("*.th")]):
        sig = file.stem.split("-")[0] if file.suffix == ".th" else file.stem
        if sig in used or sig in {m.name for m in models}:
            continue
        try:
            check_plain_name(sig, f"model file {file}")
            models.append(_repo_status(sig, [find_repo_file(folder, sig, sig)], folder))
        except ModelUnavailable as exc:
            skipped.append(str(exc))
    return RepoListing(models, skipped)


def _repo_status(name: str, files: list[Path], folder: Path) -> ModelStatus:
    """A repo model whose ``files`` were found; pickled parts need --trust-checkpoint."""
    pickled = sum(f.suffix == ".th" for f in files)
    description = (f"{len(files)} model(s)" if len(files) > 1 else "1 model") + (
        f", {pickled} pickled (needs --trust-checkpoint)" if pickled else "")
    return ModelStatus(name, description, True, sum(f.stat().st_size for f in files),
                       str(folder), str(folder), safetensors_sources(files))
