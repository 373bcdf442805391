"""Generation costs: decoding onto a body, one joint-drag edit, an interpolation, a plausibility
score, each against plain decoding of one pose measured in the same run.

    python -m bench.bench_generation --threads 1          # the shipped checkpoint
    python -m bench.bench_generation --checkpoint FILE --repeats 20

Poses are the val poses of tests/data; the edit drags a wrist 0.3 torso lengths.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from bench.threads import limit_blas_threads

ROOT = Path(__file__).resolve().parent.parent
POSES = ROOT / "tests" / "data" / "cmu_val_small.npz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: the shipped one")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    limit_blas_threads(args.threads)
    run(args)


def run(args: argparse.Namespace) -> None:
    import numpy as np
    import torch

    from vvipe_core import VVIPE
    from vvipe_core.data import load_poses
    from vvipe_core.generation import Plausibility
    from vvipe_core.skeleton import H36M17

    torch.set_num_threads(args.threads)
    model = VVIPE.load(args.checkpoint, device="cpu")
    poses = model.canonicalize(load_poses(POSES).poses[:: max(1, 600 // (2 * args.repeats))])
    z = model.embed_3d(poses)
    plausibility = Plausibility.from_embeddings(z)
    wrist = poses[:, H36M17.index("r_wrist")] + np.array([0.0, 0.2, 0.22])
    cases: dict[str, Callable[[int], object]] = {
        "decode (1 pose)": lambda i: model.decode(z[i : i + 1]),
        "decode onto a body (1 pose)": lambda i: model.decode(z[i : i + 1], body=poses[i]),
        "edit (one drag, r_wrist 0.3)": lambda i: model.edit(z[i], {"r_wrist": wrist[i]},
                                                              body=poses[i]),
        "interpolate (30 poses)": lambda i: model.interpolate(z[i], z[-1 - i], 30),
        "plausibility score (1 latent)": lambda i: plausibility.score(z[i]),
    }
    print(f"{platform.machine()} {platform.processor() or ''}, torch {torch.__version__}, "
          f"{args.threads} thread(s), checkpoint {model.source}, "
          f"{len(plausibility.index)} reference latents\n")
    print("| operation | median ms | p90 ms | × decode |")
    print("|---|---|---|---|")
    reference = None
    for name, case in cases.items():
        times = timings(case, min(args.repeats, len(z) // 2))
        median = statistics.median(times)
        reference = reference or median
        p90 = sorted(times)[int(0.9 * (len(times) - 1))]
        print(f"| {name} | {median:.2f} | {p90:.2f} | {median / reference:.1f} |")


def timings(case: Callable[[int], object], repeats: int) -> list[float]:
    case(0)  # warm-up
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        case(i)
        times.append(1000 * (time.perf_counter() - start))
    return times


if __name__ == "__main__":
    main()
