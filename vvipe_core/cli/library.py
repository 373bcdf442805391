"""`vvipe index` and `vvipe search`: a pose library of your pictures and videos.

Exit codes: 0 done, 1 nothing found (search) or some files unreadable (index), 2 unusable input,
130 interrupted (index: every finished file is kept; run it again to go on).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from tqdm import tqdm

from vvipe_core.checkpoint import CheckpointError
from vvipe_core.errors import VVIPEError

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

CheckpointOption = Annotated[Path | None, typer.Option(
    help="V-VIPE checkpoint [default: the library's own, else the bundled one]."
)]


def _model(checkpoint: Path | None, recorded: str | None):
    """The checkpoint asked for, else the one that built the library (`recorded`: its
    embeddings only mean something to that model), else the bundled one."""
    from vvipe_core.api import VVIPE

    if checkpoint is None and recorded is not None and Path(recorded).is_file():
        checkpoint = Path(recorded)
    return VVIPE.load(checkpoint, device="cpu")


def _fail(error: Exception) -> typer.Exit:
    errors.print(f"[red]error:[/red] {escape(str(error))}")
    return typer.Exit(2)


def index(
    paths: Annotated[list[Path] | None, typer.Argument(
        help="Pictures, videos or folders of them.")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Library directory.")] = ...,
    stride: Annotated[int, typer.Option(min=1, help="Videos: use every Nth frame.")] = 1,
    workers: Annotated[int, typer.Option(
        min=1, help="Detection processes (one MediaPipe each) [default: the CPU count].",
        show_default=False)] = os.cpu_count() or 1,
    ray: Annotated[str | None, typer.Option(
        "--ray", help="Detect on Ray: 'local' (a local instance of --workers CPUs) or a "
        "cluster address (needs the [cluster] extra).")] = None,
    prune: Annotated[bool, typer.Option(
        "--prune", help="Drop the files that have disappeared from the disk.")] = False,
    checkpoint: CheckpointOption = None,
) -> None:
    """Add every person of new or changed pictures and videos to a pose library."""
    from vvipe_core.library import PoseLibrary, index_paths
    from vvipe_core.library_store import LibraryStore

    if not paths and not prune:
        errors.print("[red]error:[/red] give pictures, videos or folders to index (or --prune)")
        raise typer.Exit(2)
    if ray is not None:
        try:
            import ray as _  # noqa: F401 - only checking that it is there before any work
        except ImportError:
            errors.print("[red]error:[/red] --ray needs Ray: pip install 'vvipe-studio[cluster]'")
            raise typer.Exit(2) from None
    try:
        recorded = PoseLibrary.open(out).checkpoint if LibraryStore.exists(out) else None
        model = _model(checkpoint, recorded)
        with tqdm(unit="file", disable=None) as bar:
            def progress(step) -> None:
                bar.total = step.files_total
                bar.n = step.files_done
                bar.set_postfix_str(f"{step.file.name if step.file else ''} {step.frames or ''}")

            report = index_paths(out, paths or [], model, stride=stride, progress=progress,
                                 workers=workers, ray=ray, prune=prune)
    except (VVIPEError, CheckpointError, OSError) as error:
        raise _fail(error) from None
    except KeyboardInterrupt:
        errors.print("interrupted: the finished files are saved; run again to go on")
        raise typer.Exit(130) from None
    for path, reason in report.failed.items():
        errors.print(f"[yellow]skipped[/yellow] {escape(str(path))}: {escape(reason)}")
    for old, new in report.moved.items():
        errors.print(f"moved {escape(str(old))} -> {escape(str(new))} (its poses are kept)")
    for path in report.pruned:
        errors.print(f"pruned {escape(str(path))} (missing)")
    if report.missing:
        errors.print(f"[yellow]{len(report.missing)} indexed file(s) are missing[/yellow], e.g. "
                     f"{escape(str(report.missing[0]))}: --prune drops them")
    console.print(f"{len(report.processed)} file(s) processed, {len(report.skipped)} unchanged; "
                  f"{report.size:,} poses in {out}")
    if report.failed:
        raise typer.Exit(1)


def search(
    library: Annotated[Path, typer.Argument(help="Library directory (vvipe index).")],
    query: Annotated[Path, typer.Argument(help="A picture whose (largest) person to look for.")],
    k: Annotated[int, typer.Option("-k", min=1, help="Number of hits.")] = 10,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print a JSON list of hits (file, frame, time_s, person, distance).")
    ] = False,
    checkpoint: CheckpointOption = None,
) -> None:
    """The poses of a library nearest to a picture's pose, from any camera angle."""
    from vvipe_core.library import PoseLibrary, embed_query

    try:
        opened = PoseLibrary.open(library)
        hits = opened.search(embed_query(_model(checkpoint, opened.checkpoint), query), k)
    except (VVIPEError, CheckpointError, OSError) as error:
        raise _fail(error) from None
    if as_json:
        print(json.dumps([{"file": h.entry.file, "frame": h.entry.frame,
                           "time_s": h.entry.time_s, "person": h.entry.person,
                           "distance": h.distance} for h in hits], indent=1))
    if not hits:
        errors.print("the library is empty")
        raise typer.Exit(1)
    if as_json:
        return
    for rank, hit in enumerate(hits, 1):
        where = f"frame {hit.entry.frame} ({hit.entry.time_s:.2f} s)" if hit.entry.is_video else ""
        console.print(f"{rank:>3}. {hit.distance:7.3f}  {escape(hit.entry.file)} {where}")


def register(app: typer.Typer) -> None:
    app.command("index")(index)
    app.command("search")(search)
