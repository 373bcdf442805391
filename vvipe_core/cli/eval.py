"""`vvipe eval`: the cross-view retrieval and lifting protocol (see vvipe_core/evaluation.py)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console(soft_wrap=True)
METHODS = ("vvipe", "2d", "lifter", "prvipe")


def eval_command(
    data: Path = typer.Option(..., "--data", help="Poses in our npz format (poses, subject, sequence)."),
    checkpoint: Path | None = typer.Option(None, help="Model checkpoint (default: the bundled one)."),
    cameras: str = typer.Option("both", help="seen, unseen or both."),
    views: int = typer.Option(4, help="Cameras per pose."),
    noise_px: float = typer.Option(0.0, "--noise-px", help="Gaussian 2D noise (pixels)."),
    corrupt: str = typer.Option(
        "none", help="none, or detector: detector-like 2D errors (docs/RESULTS.md)."),
    drop_joints: int = typer.Option(0, "--drop-joints", help="Random keypoints missing per 2D pose."),
    bone_scale: float = typer.Option(
        0.0, "--bone-scale", help="Rescale each bone by U(1±s), one body per take."),
    max_poses: int | None = typer.Option(None, "--max-poses", help="Evaluate a seeded subset."),
    seed: int = typer.Option(0),
    flip: bool = typer.Option(
        False, "--flip", help="Test-time flip averaging (vvipe only): lift the mirror image too."),
    method: str = typer.Option(
        "vvipe", help="vvipe, 2d (nearest 2D keypoints), or a baseline checkpoint: lifter, prvipe."),
    against: str = typer.Option(
        "2d", help="2d: query other views' 2D; 3d: query embed_3d of the clean 3D poses (the "
        "app's gallery path)."),
    verify: int = typer.Option(
        0, "--verify", help="With --against 3d: re-rank the top K by fitting a camera to each "
        "candidate (0: off)."),
    verify_blend: float = typer.Option(
        0.0, "--verify-blend", help="Weight of the embedding distance in that re-ranking."),
    refine: int = typer.Option(
        0, "--refine", help="Lift with this many steps fitting the latent to the keypoints."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the results as JSON."),
    device: str = typer.Option("auto"),
) -> None:
    """Hit@1/10/20 across views and lifting error (MPJPE, PA-MPJPE, NP-MPJPE) on virtual cameras."""
    from vvipe_core import VVIPE
    from vvipe_core.atomic import WriteError, check_writable, write_text
    from vvipe_core.baselines import BaselineModel
    from vvipe_core.checkpoint import CheckpointError
    from vvipe_core.data import DataFileError, load_poses
    from vvipe_core.evaluation import EvalOptions, Keypoints2DMethod, ModelMethod, evaluate
    from vvipe_core.train import select_device

    sets = ("seen", "unseen") if cameras == "both" else (cameras,)
    if not set(sets) <= {"seen", "unseen"}:
        raise typer.BadParameter("--cameras must be seen, unseen or both")
    if method not in METHODS:
        raise typer.BadParameter(f"--method must be one of {', '.join(METHODS)}")
    if against == "3d" and method != "vvipe":
        raise typer.BadParameter("--against 3d needs a model with a 3D encoder: --method vvipe")
    if refine < 0 or (refine and method != "vvipe"):
        raise typer.BadParameter("--refine STEPS needs --method vvipe and STEPS >= 0")
    if flip and method != "vvipe":
        raise typer.BadParameter("--flip needs --method vvipe")
    if flip and refine:
        raise typer.BadParameter("--flip and --refine are one or the other")
    start = time.perf_counter()
    try:
        opts = EvalOptions(sets, views, noise_px, drop_joints, bone_scale, max_poses, seed, against,
                           verify, verify_blend, corrupt=corrupt)
        select_device(device)
        if json_out:
            check_writable(json_out)
        pose_set = load_poses(data)
        if method == "vvipe":
            model = VVIPE.load(checkpoint, device=device)
            runner = ModelMethod(model, refine=refine, flip=flip)
            realign, source = model.realign, model.source
        elif method == "2d":
            runner, realign, source = Keypoints2DMethod(), "full", None
        else:
            if checkpoint is None:
                raise ValueError(f"--method {method} needs --checkpoint (vvipe train-baseline)")
            model = BaselineModel(checkpoint, device="cpu" if device == "auto" else device)
            if model.kind != method:
                raise ValueError(f"{checkpoint} is a {model.kind} baseline, not {method}")
            runner, realign, source = ModelMethod(model, method), model.realign, model.source
        result = evaluate(pose_set.poses, runner, opts, realign,
                          progress=lambda s: console.print(f"[dim]{s} cameras…[/dim]"),
                          sequences=pose_set.sequence)
    except (DataFileError, CheckpointError, WriteError, ValueError) as e:
        console.print(f"[red]error:[/red] {escape(str(e))}")
        raise typer.Exit(2) from None
    result = {"n_poses": result.pop("n_poses"), "checkpoint": source, "flip": flip, **result}
    if refine:
        result["refine"] = refine
    result["seconds"] = round(time.perf_counter() - start, 1)
    _print_table(result)
    if json_out:
        try:
            write_text(json_out, json.dumps(result, indent=2) + "\n")
        except WriteError as e:
            console.print(f"[red]error:[/red] {escape(str(e))}")
            raise typer.Exit(1) from None
        console.print(f"wrote {json_out}")


def _print_table(result: dict) -> None:
    query = "2D views -> 3D gallery" if result["against"] == "3d" else f"{result['views']} views"
    if result.get("verify"):
        query += f", top {result['verify']} verified"
    corrupt = "" if result["corrupt"] == "none" else f", {result['corrupt']} errors"
    table = Table(title=f"{result['method']} on {result['n_poses']:,} poses × {query}"
                  f" (noise {result['noise_px']} px{corrupt}) in {result['seconds']} s")
    for col in ("cameras", "Hit@1", "Hit@10", "Hit@20", "MPJPE mm", "PA-MPJPE mm", "NP-MPJPE"):
        table.add_column(col, justify="right")
    for cams, hits in result["retrieval"].items():
        lift = result.get("lifting", {}).get(cams)
        cells = [f"{lift[k]:.1f}" for k in ("mpjpe_mm", "pa_mpjpe_mm")] + [f"{lift['np_mpjpe']:.3f}"] \
            if lift else ["–"] * 3
        table.add_row(cams, *_hit_cells(hits), *cells)
    for cams, hits in result.get("retrieval_same_pose", {}).items():
        table.add_row(f"{cams}, by pose", *_hit_cells(hits), *["–"] * 3)
    if "retrieval_same_pose" in result:
        table.caption = "by pose: the same pose on any body is a hit (judged before the bones were rescaled)"
    if result.get("verify"):
        table.caption = "re-ranking: " + ", ".join(
            f"{cams} {ms:.2f} ms per query" for cams, ms in result["verify_ms_per_query"].items())
    console.print(table)


def _hit_cells(hits: dict) -> list[str]:
    return [f"{hits[k]:.3f}" for k in ("hit@1", "hit@10", "hit@20")]


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
