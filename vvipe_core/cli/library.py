"""`vvipe index` and `vvipe search`: a pose library of your pictures and videos.

Exit codes: 0 done, 1 nothing found (search) or some files unreadable (index), 2 unusable input,
130 interrupted (index: every finished file is kept; run it again to go on).
"""
from __future__ import annotations

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


def _model(checkpoint: Path | None, library: Path):
    """The checkpoint asked for, else the one that built the library (its embeddings only
    mean something to that model), else the bundled one."""
    from vvipe_core.api import VVIPE
    from vvipe_core.library import META, PoseLibrary

    if checkpoint is None and (library / META).exists():
        recorded = Path(PoseLibrary.open(library).checkpoint)
        checkpoint = recorded if recorded.is_file() else None
    return VVIPE.load(checkpoint, device="cpu")


def index(
    paths: Annotated[list[Path], typer.Argument(help="Pictures, videos or folders of them.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Library directory.")],
    stride: Annotated[int, typer.Option(min=1, help="Videos: use every Nth frame.")] = 1,
    checkpoint: CheckpointOption = None,
) -> None:
    """Add every person of new or changed pictures and videos to a pose library."""
    from vvipe_core.library import index_paths

    try:
        model = _model(checkpoint, out)
        with tqdm(unit="file", disable=None) as bar:
            def progress(step) -> None:
                bar.total = step.files_total
                bar.n = step.files_done
                bar.set_postfix_str(f"{step.file.name if step.file else ''} {step.frames or ''}")

            report = index_paths(out, paths, model, stride=stride, progress=progress)
    except (VVIPEError, CheckpointError, OSError) as error:
        errors.print(f"[red]error:[/red] {escape(str(error))}")
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        errors.print("interrupted: the finished files are saved; run again to go on")
        raise typer.Exit(130) from None
    for path, reason in report.failed.items():
        errors.print(f"[yellow]skipped[/yellow] {escape(str(path))}: {escape(reason)}")
    console.print(f"{len(report.processed)} file(s) processed, {len(report.skipped)} unchanged; "
                  f"{report.size:,} poses in {out}")
    if report.failed:
        raise typer.Exit(1)


def search(
    library: Annotated[Path, typer.Argument(help="Library directory (vvipe index).")],
    query: Annotated[Path, typer.Argument(help="A picture whose (largest) person to look for.")],
    k: Annotated[int, typer.Option("-k", min=1, help="Number of hits.")] = 10,
    checkpoint: CheckpointOption = None,
) -> None:
    """The poses of a library nearest to a picture's pose, from any camera angle."""
    from vvipe_core.library import PoseLibrary, embed_query

    try:
        opened = PoseLibrary.open(library)
        hits = opened.search(embed_query(_model(checkpoint, library), query), k)
    except (VVIPEError, CheckpointError, OSError) as error:
        errors.print(f"[red]error:[/red] {escape(str(error))}")
        raise typer.Exit(2) from None
    if not hits:
        errors.print("the library is empty")
        raise typer.Exit(1)
    for rank, hit in enumerate(hits, 1):
        where = f"frame {hit.entry.frame} ({hit.entry.time_s:.2f} s)" if hit.entry.is_video else ""
        console.print(f"{rank:>3}. {hit.distance:7.3f}  {escape(hit.entry.file)} {where}")


def register(app: typer.Typer) -> None:
    app.command("index")(index)
    app.command("search")(search)
