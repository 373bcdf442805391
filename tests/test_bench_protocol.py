"""Smoke run of bench/protocol.py on tiny models: seeds, the JSON's shape, the table, the claims."""
import json

import numpy as np
import pytest

from bench import protocol
from tests.helpers import SMALL_POSES, tiny_config


@pytest.fixture
def tiny_protocol(tmp_path, monkeypatch):
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "tiny.toml").write_text(tiny_config(mapper_epochs=1, steps_per_epoch=2, vae_epochs=1).to_toml())
    models = {
        "2d": protocol.MODELS["2d"],
        "vvipe": protocol.Entry("vvipe", "tiny.toml", "V-VIPE", seeds=2),
        "prvipe": protocol.Entry("prvipe", "tiny.toml", "Pr-VIPE, means", seeds=2),
        "prvipe_samples": protocol.Entry("prvipe", "tiny.toml", "Pr-VIPE, samples", 2, models_of="prvipe"),
        "lifter": protocol.Entry("lifter", "tiny.toml", "Lifter"),
    }
    monkeypatch.setattr(protocol, "MODELS", models)
    monkeypatch.setattr(protocol, "CONFIGS", configs)
    monkeypatch.setattr(protocol, "RUNS", tmp_path / "runs")
    monkeypatch.setattr(protocol, "VAL", str(SMALL_POSES))
    monkeypatch.setattr(protocol, "SWEEP_MODELS", ("2d",))
    monkeypatch.setattr(protocol, "ELEVATIONS", [(-30, 0), (0, 30)])
    return tmp_path / "protocol.json"


def test_protocol_runs_every_seed_once_and_keeps_the_json_shape(tiny_protocol):
    # Evaluating only what is trained: nothing is, so only the 2D nearest neighbour runs.
    first = protocol.run(tiny_protocol, max_poses=40, train_missing=False)
    assert list(first) == ["2d"] and "elevation_sweep" in first["2d"]
    results = protocol.run(tiny_protocol, max_poses=40)
    assert json.loads(tiny_protocol.read_text()) == results
    for name, seeds in (("2d", 1), ("vvipe", 2), ("prvipe", 2), ("prvipe_samples", 2), ("lifter", 1)):
        r = results[name]
        assert [s["seed"] for s in r["per_seed"]] == list(range(seeds))
        for noise in ("noise_0", "noise_5"):
            mean = np.mean([s[noise]["retrieval"]["seen"]["hit@1"] for s in r["per_seed"]])
            assert r[noise]["retrieval"]["seen"]["hit@1"] == pytest.approx(mean)
        if name != "2d":
            assert all(s["train"]["steps"] > 0 and s["train"]["wall_s"] > 0 for s in r["per_seed"])
    assert results["vvipe"]["per_seed"][0] != results["vvipe"]["per_seed"][1]  # seeds differ
    # The two Pr-VIPE rows share their trained models but not their search.
    assert sorted(p.name for p in (tiny_protocol.parent / "runs").glob("prvipe_s*.pt")) == [
        "prvipe_s0.pt", "prvipe_s1.pt"]
    assert "elevation_sweep" in results["2d"]

    # Each (method, seed) evaluation is kept: a lost JSON is gathered again without any work.
    assert len(list((tiny_protocol.parent / "runs").glob("*.eval.json"))) == 9
    tiny_protocol.unlink()
    assert protocol.run(tiny_protocol, max_poses=40, only=("vvipe",))["vvipe"] == results["vvipe"]
    assert protocol.run(tiny_protocol, max_poses=40, only=("lifter:0",))["lifter"] == results["lifter"]
    assert protocol.run(tiny_protocol, max_poses=40) == results
    # A second run finds nothing missing: it trains and evaluates nothing.
    stamp = tiny_protocol.stat().st_mtime_ns
    assert protocol.run(tiny_protocol, max_poses=40) == results
    assert tiny_protocol.stat().st_mtime_ns == stamp

    table = protocol.report(results)
    assert table.count("\n") == 1 + len(results) and " ± " in table
    verdicts = protocol.claims(results)
    assert "V-VIPE beats Pr-VIPE on unseen cameras" in verdicts
    assert "one seed: judged by the other's spread" in verdicts  # the lifter has one seed


def test_train_option_is_checked_before_any_work(monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["protocol", "--train", "vvipe:x", "nothing:1", "--only", "no"])
    with pytest.raises(SystemExit) as exit_info:
        protocol.main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "vvipe:x" in err and "nothing:1" in err and "got vvipe:x, nothing:1, no" in err
