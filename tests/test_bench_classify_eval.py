"""bench/classify_eval.py runs end to end on tiny data (its tables are in RESULTS.md)."""
import argparse
from pathlib import Path

import pytest

from bench.classify_eval import evaluate, markdown

SMALL = Path(__file__).parent / "data" / "cmu_val_small.npz"


@pytest.mark.slow
def test_classify_eval_smoke(tiny_checkpoint):
    result = evaluate(argparse.Namespace(train=str(SMALL), val=str(SMALL),
                                         checkpoint=str(tiny_checkpoint), max_samples=200,
                                         window=8, seed=0))
    assert result["n_val_poses"] == 600 and result["rows"]
    assert "V-VIPE embedding" in markdown(result)
