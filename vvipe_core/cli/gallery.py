"""`vvipe gallery`: pick diverse poses of a pose file and store them, embedded, as a gallery."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from vvipe_core.checkpoint import CheckpointError
from vvipe_core.data import DataFileError

console = Console(soft_wrap=True)


def gallery(
    data: Annotated[Path, typer.Option(help="Pose file (our npz) to pick poses from.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Gallery file to write.")] = Path(
        "assets/gallery.npz"
    ),
    checkpoint: Annotated[Path | None, typer.Option(
        help="V-VIPE checkpoint that embeds the poses [default: the bundled one]."
    )] = None,
    size: Annotated[int, typer.Option(min=1, help="Number of poses to keep.")] = 3000,
    seed: Annotated[int, typer.Option(help="Seed of the selection.")] = 0,
) -> None:
    """Build a retrieval gallery: diverse canonical poses, their embeddings and their sources."""
    from vvipe_core.api import VVIPE
    from vvipe_core.atomic import WriteError, check_writable
    from vvipe_core.data import load_poses
    from vvipe_core.gallery import build_gallery

    try:
        check_writable(out)
        model = VVIPE.load(checkpoint, device="cpu")
        poses = load_poses(data)
    except (DataFileError, CheckpointError, WriteError, OSError) as e:
        console.print(f"[red]error:[/red] {escape(str(e))}")
        raise typer.Exit(2) from None
    built = build_gallery(model, poses, size=size, seed=seed, source=data.name)
    try:
        built.save(out)
    except WriteError as e:
        console.print(f"[red]error:[/red] {escape(str(e))}")
        raise typer.Exit(1) from None
    console.print(f"{len(built):,} poses from {len(set(built.sequence)):,} sequences -> {out}")


def register(app: typer.Typer) -> None:
    app.command("gallery")(gallery)
