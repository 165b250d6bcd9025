"""``progdemix-tui models``: known models and whether their weights are cached, or the
models of a local repo folder (``--repo``); ``--json`` for scripts."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from progdemix_tui.engine.errors import ConfigError
from progdemix_tui.engine.options import OPTION, TORCHAUDIO_NOTE

from .common import add_option, err_console, handles_errors, out_console, print_table

EPILOG = """\
examples:
  progdemix-tui models                  known models: family, cached or not, size, rate, stems
  progdemix-tui models --json           the same as JSON (size_bytes/sources null when unknown)
  progdemix-tui models convert model.ckpt --model-config model.yaml --to model.safetensors \
      --trust-checkpoint                 a RoFormer checkpoint as a safe file, once
  progdemix-tui models --repo weights   the models a local demucs repo folder holds
  progdemix-tui models download hdemucs_mmi --to weights   fetch now, for offline use

Families: demucs and Open-Unmix (umxhq, umx, umxl, umxse) are listed by name; band-split
RoFormers are files (a checkpoint and its YAML config: --model FILE --model-config FILE.yaml;
docs/models.md). Sizes and stems of demucs models not downloaded yet are not known offline (demucs's model lists
carry no sizes); they show as '—'. --online asks the hub for their sizes (size_source
"hub" in --json; "local" for files on this machine). An Open-Unmix name not downloaded yet
shows '~' and the size of its package's model, what the download brings (size_source
"estimate").
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models", help="list known models, cached or not, and their sizes",
        description=f"List known models. {TORCHAUDIO_NOTE}", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", metavar="DIR",
                        help="list the models in a local demucs repo folder (for --repo)")
    parser.add_argument("--json", action="store_true",
                        help="print the list as JSON: name, family, default, cached, "
                             "size_bytes, samplerate, location, origin, sources, description")
    parser.add_argument("--online", action="store_true",
                        help="ask the hub for the sizes of models not downloaded yet")
    parser.set_defaults(handler=handle)
    commands = parser.add_subparsers(dest="models_command", metavar="SUBCOMMAND")
    get = commands.add_parser(
        "download", help="fetch a model now, into the cache or a folder for --repo",
        description="Download a hub model now (from HF_ENDPOINT), so that it loads offline "
                    "later; --to also copies its files into a folder usable with --repo. An "
                    "Open-Unmix name (umxhq, umx, umxl, umxse) is fetched from its published "
                    "files into torch.hub's cache.")
    get.add_argument("name", metavar="NAME",
                     help="a demucs model name, e.g. hdemucs_mmi, or an Open-Unmix one (umxhq)")
    get.add_argument("--to", metavar="DIR", help="also copy NAME.yaml and its .safetensors here")
    get.set_defaults(handler=handle_download)
    convert = commands.add_parser(
        "convert", help="make a safe .safetensors copy of a RoFormer checkpoint, once",
        description="Read a band-split RoFormer checkpoint (.ckpt/.pth) with its training "
                    "YAML config, check its tensors against the config, and write them with "
                    "the checked config embedded to a .safetensors file: loading that runs no "
                    "code and needs no --model-config. Written whole or not at all.")
    convert.add_argument("checkpoint", metavar="CKPT", help="the .ckpt or .pth checkpoint")
    add_option(convert, OPTION["model_config"], required=True)
    convert.add_argument("--to", metavar="FILE.safetensors", required=True,
                         help="the safe copy to write")
    add_option(convert, OPTION["trust_checkpoint"])
    convert.set_defaults(handler=handle_convert)


@handles_errors
def handle_convert(args: argparse.Namespace) -> int:
    from progdemix_tui.engine.families.roformer import convert

    target = Path(args.to).expanduser()
    if target.exists() and not target.is_file():
        raise ConfigError(f"--to {args.to} is not a file path; give FILE.safetensors.")
    written = convert(args.checkpoint, args.model_config, target,
                      trust_checkpoint=args.trust_checkpoint)
    out_console.print(escape(str(written)), soft_wrap=True)
    err_console.print(f"safe copy written: use --model {escape(str(written))} (no "
                      "--model-config or --trust-checkpoint needed)", soft_wrap=True)
    return 0


@handles_errors
def handle_download(args: argparse.Namespace) -> int:
    from progdemix_tui.engine.download import download
    from progdemix_tui.engine.families import OPENUNMIX_NAMES

    def notify(text: str) -> None:
        err_console.print(text, markup=False, soft_wrap=True)

    if args.name in OPENUNMIX_NAMES:
        return _download_openunmix(args, notify)

    got = download(args.name, args.to, notify)
    for path in got.files:
        out_console.print(escape(str(path)), soft_wrap=True)
    where = f"{args.to} (use --repo {args.to})" if args.to else "the Hugging Face cache"
    err_console.print(f"{args.name}: {len(got.files)} file(s) in {escape(where)}")
    return 0


def _download_openunmix(args: argparse.Namespace, notify) -> int:
    """An Open-Unmix name: its published files into torch.hub's cache, where it loads from."""
    from progdemix_tui.engine.families.openunmix import cache_dir, fetch

    if args.to:
        raise ConfigError(f"--to is for demucs's --repo folders; {args.name}'s files go to "
                          f"torch.hub's cache ({cache_dir()}), where --model {args.name} "
                          "reads them: drop --to.")
    files = fetch(args.name, notify)
    for path in files.values():
        out_console.print(escape(str(path)), soft_wrap=True)
    err_console.print(f"{args.name}: {len(files)} file(s) in {escape(str(cache_dir()))}")
    return 0


def _size(n: int | None, source: str | None = None) -> str:
    if n is None:
        return "—"
    return f"{'~' if source == 'estimate' else ''}{n / 1e6:.1f} MB"


def _rate(rate: int | None) -> str:
    return "—" if rate is None else f"{rate / 1000:g} kHz"


def _asked(status, source: dict):
    """``status`` with the hub's size of a model not downloaded yet (``--online``); a size
    the hub cannot give now stays unknown, with one note."""
    from progdemix_tui.engine.download import remote_size
    from progdemix_tui.engine.errors import ModelUnavailable
    from progdemix_tui.engine.hub import is_hub_name

    if status.size_bytes is not None or not is_hub_name(status.name):
        return status
    try:
        size = remote_size(status.name)
    except ModelUnavailable as exc:
        err_console.print(f"note: size of {status.name} unknown: {exc}", markup=False,
                          soft_wrap=True)
        return status
    source[status.name] = "hub"
    return dataclasses.replace(status, size_bytes=size)


@handles_errors
def handle(args: argparse.Namespace) -> int:
    from progdemix_tui.engine.models import DEFAULT_MODEL, list_models, list_repo

    if args.repo:
        listing = list_repo(args.repo)
        statuses, title, default = listing.models, f"models in {args.repo}", None
        for note in listing.skipped:  # one bad entry does not hide the others
            err_console.print(f"skipped: {note}", markup=False, soft_wrap=True)
    else:
        statuses, title, default = list_models(), "models", DEFAULT_MODEL
    source = {s.name: s.size_source or ("local" if s.size_bytes is not None else None)
              for s in statuses}
    if args.online and not args.repo:
        statuses = [_asked(s, source) for s in statuses]
    if args.json:
        rows = [{**dataclasses.asdict(s), "default": s.name == default,
                 "size_source": source.get(s.name)} for s in statuses]
        out_console.print_json(json.dumps(rows))
        return 0
    print_table(_table(title, statuses, default, cached=not args.repo), ("stems",))
    if args.repo:
        if not statuses:
            err_console.print(f"{args.repo} holds no usable models (NAME.yaml bags, "
                              "SIG.safetensors or SIG.th files)", markup=False)
        return 0
    from huggingface_hub import constants

    when = ("HF_HUB_OFFLINE is set: nothing is downloaded" if constants.HF_HUB_OFFLINE
            else "models download on first use")
    if not args.online and any(s.size_bytes is None for s in statuses):
        when += "; '—': size known only online, see --online"
    out_console.print(f"cache: {constants.HF_HUB_CACHE} ({when}; "
                      "offline: see README 'Offline weights')")
    return 0


def _table(title: str, statuses: list, default: str | None, cached: bool) -> Table:
    """One row per model; ``cached``: with the column saying whether its weights are here."""
    table = Table(title=escape(title), title_justify="left")
    columns = ("name", "family", "cached", "size", "rate", "stems", "description")
    for col in columns if cached else [c for c in columns if c != "cached"]:
        table.add_column(col, no_wrap=col != "description", min_width=20 if col == "description"
                         else None, justify="right" if col in ("size", "rate", "stems") else "left")
    for status in statuses:
        name = escape(status.name)
        row = [f"[bold]{name}[/] (default)" if status.name == default else name,
               escape(status.family), "[green]yes[/]" if status.cached else "no",
               _size(status.size_bytes, status.size_source), _rate(status.samplerate),
               "—" if status.sources is None else str(len(status.sources)),
               escape(status.description)]
        table.add_row(*(row if cached else [*row[:2], *row[3:]]))
    return table
