"""Lifter training under ``torchrun --nproc_per_node 2`` (gloo, CPU) against the one-process run:
the same losses and weights up to float summation order, rank 0 alone writes, a stopped run
resumes exactly; a batch that does not split over the processes is a clear error."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from simpose.models.lifter_net import TemporalLifterNet
from simpose.train.lifter import TrainConfig, train
from simpose.train.lifter_data import SamplerConfig

HELPER = Path(__file__).with_name("helpers_ddp.py")
# Tolerances. The two runs differ only in the order of float32 sums (losses, batch-norm
# statistics, gradients over the two halves of the batch): ~1e-7 relative per sum. The loss
# gets 1e-4 relative: 1000 times that. The weights get 1e-5 absolute: 1% of the most one Adam
# step at lr 1e-3 can move a weight (Adam divides each gradient by its own running size, so a
# near-zero gradient component can amplify a rounding difference up to a step's size; a real
# mismatch such as per-rank batch-norm statistics moves weights by a whole step).
# Measured (pytest -s prints it): loss 1.2e-7, weights 1.7e-6.
LOSS_RTOL = 1e-4
WEIGHT_ATOL = 1e-5


def _config(tiny_cache, batch_size: int = 16) -> TrainConfig:
    # dropout 0: each rank draws its own dropout masks, so only a run without dropout is the
    # one-process run in value (simpose.train.distributed)
    return TrainConfig(steps=4, checkpoint_every=2, log_every=1, workers=0, channels=32, warmup=2, dropout=0.0,
                       cache=tiny_cache[1], sampler=SamplerConfig(batch_size=batch_size))  # fmt: skip


def _log(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def _weights(run: Path) -> dict:
    return torch.load(run / "lifter.pt", weights_only=True)["state_dict"]


def test_two_processes_train_as_one(tiny_cache, tmp_path):
    cfg = _config(tiny_cache)
    one = train(tmp_path / "one", cfg, cache_dir=tiny_cache[0], progress=False)
    config = tmp_path / "config.json"
    config.write_text(json.dumps(dataclasses.asdict(cfg)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(HELPER), str(config), str(tiny_cache[0]), str(tmp_path / "two")]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    full, split = tmp_path / "two/full", tmp_path / "two/split"
    # the losses of every step (the log's is the mean over the ranks), one line per step: rank 0 alone writes
    want = [e["train_mpjpe_mm"] for e in _log(one.parent)]
    got = [e["train_mpjpe_mm"] for e in _log(full)]
    assert [e["step"] for e in _log(full)] == [1, 2, 3, 4]
    assert got == pytest.approx(want, rel=LOSS_RTOL)
    a, b = _weights(one.parent), _weights(full)
    assert a.keys() == b.keys()  # the global batch norms keep BatchNorm1d's state: the same weights file
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=0, atol=WEIGHT_ATOL)
    # training moved the weights and the loss by far more than the tolerances: the comparison means something
    torch.manual_seed(cfg.seed)
    start = TemporalLifterNet(**cfg.net_config()).state_dict()  # the initial weights, as train() makes them
    params = [k for k, _ in TemporalLifterNet(**cfg.net_config()).named_parameters()]
    moved = max(float((a[k] - start[k]).abs().max()) for k in params)
    assert moved > 100 * WEIGHT_ATOL and abs(want[-1] - want[0]) > 100 * LOSS_RTOL * want[0]
    loss_diff = max(abs(g - w) / w for g, w in zip(got, want))
    weight_diff = max(float((a[k] - b[k]).abs().max()) for k in a if a[k].is_floating_point())
    print(f"\n2 processes vs 1: loss rel. diff {loss_diff:.2e} (tol {LOSS_RTOL}), weights max abs diff {weight_diff:.2e} "
          f"(tol {WEIGHT_ATOL}); training moved the weights by up to {moved:.2e}")
    card = json.loads((full / "lifter.json").read_text())
    assert card["distributed"] == {"processes": 2, "windows_per_process": 8}
    # stopped after 2 steps and resumed (by the same 2 processes): the uninterrupted run exactly
    c = _weights(split)
    for k in b:
        torch.testing.assert_close(c[k], b[k], rtol=0, atol=0)
    assert [e["step"] for e in _log(split)] == [1, 2, 3, 4]


def test_batch_that_does_not_split_is_an_error(tiny_cache, tmp_path, monkeypatch, capsys):
    from simpose.train import distributed
    from simpose.train.lifter import main

    # rank 0 of 2 as torchrun would make it (without starting the other process)
    monkeypatch.setattr(distributed, "setup", lambda device=None: distributed.Ranks(0, 2, 0))
    config = tmp_path / "config.json"
    config.write_text(json.dumps(dataclasses.asdict(_config(tiny_cache, batch_size=15))))
    with pytest.raises(SystemExit) as exc:
        main(["--out", str(tmp_path / "run"), "--config", str(config), "--cache", str(tiny_cache[0]), "--no-progress"])
    assert exc.value.code == 2
    assert "batch of 15 windows does not split over 2 processes" in capsys.readouterr().err
    assert not (tmp_path / "run/config.json").exists()  # nothing started
