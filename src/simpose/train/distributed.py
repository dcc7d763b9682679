"""Data-parallel training under ``torchrun`` (torch.distributed), the same run as one process.

    torchrun --nproc_per_node 2 -m simpose.train.lifter --out DIR --config FILE

torchrun sets ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``; :func:`setup` joins its process group (gloo:
the trainer's tensors are on the CPU; nccl for CUDA ones). Without torchrun, or with one
process, nothing here does anything and the trainer is the plain one-process loop.

How a run of N processes equals a one-process run up to floating-point summation order:

* every rank draws the same global batch of B windows (the one process's data stream) and keeps
  its own B/N of them (:func:`shard`; B not divisible by N is an error);
* the batch norms take their statistics over the global batch (:class:`GlobalBatchNorm1d`:
  sums all-reduced, with gradients), as the one process's do over its batch;
* DistributedDataParallel averages the gradients of the per-rank mean losses: with equal
  shards that is the gradient of the global mean loss; every rank then takes the same Adam step.

Dropout is the exception: each rank draws its own masks (the one process draws one mask for
the whole batch), so a run with dropout is the same in distribution, not in value. Rank 0
writes the run folder (config, log, checkpoints, weights); the log's training loss is the
mean over ranks. On several machines ``--out`` and the joint cache must be on a file system
every node sees (every rank reads the checkpoint when it resumes).
"""

from __future__ import annotations

import dataclasses
import logging
import os

import torch
import torch.distributed as dist
from torch import nn

logger = logging.getLogger(__name__)

__all__ = ["Ranks", "setup", "teardown", "shard", "check_batch", "GlobalBatchNorm1d", "use_global_batch_norms", "mean_over_ranks", "barrier"]


@dataclasses.dataclass(frozen=True)
class Ranks:
    """This process's place: ``rank`` of ``world_size`` (``local_rank`` on its machine)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0: the one that writes files and logs."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup(device: torch.device = torch.device("cpu")) -> Ranks:
    """Join torchrun's process group (once per process); a plain run gets ``Ranks()``.

    Args:
        device: where the trainer's tensors live (gloo for the CPU, nccl for CUDA).
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Ranks()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Ranks(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def teardown() -> None:
    """Leave the process group, if one was joined."""
    if dist.is_initialized():
        dist.destroy_process_group()


def check_batch(batch_size: int, ranks: Ranks) -> int:
    """The per-rank batch ``batch_size / world_size``. Raises ValueError when it does not divide."""
    if batch_size % ranks.world_size:
        raise ValueError(
            f"the batch of {batch_size} windows does not split over {ranks.world_size} processes: "
            f"use a batch size (sampler.batch_size) that is a multiple of --nproc_per_node x nodes"
        )
    return batch_size // ranks.world_size


def shard(x: torch.Tensor, ranks: Ranks) -> torch.Tensor:
    """This rank's rows of a global batch: (B, ...) -> (B / world_size, ...)."""
    n = check_batch(len(x), ranks)
    return x[ranks.rank * n : (ranks.rank + 1) * n]


class GlobalBatchNorm1d(nn.BatchNorm1d):
    """``BatchNorm1d`` whose training statistics are those of the global batch over every rank.

    torch's ``SyncBatchNorm`` does this for GPUs only; this one works over any backend (gloo on
    the CPU). Mean and variance are two all-reduced sums (the variance about the global mean,
    as ``BatchNorm1d`` computes it), differentiable, so each rank's gradient includes the other
    ranks' losses through the shared statistics, as in one process. Equal shards are assumed
    (:func:`shard`). Outside training, or without a process group, it is ``BatchNorm1d``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, C) -> (N, C)."""
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        count = x.shape[0] * dist.get_world_size()
        mean = all_reduce(x.sum(0)) / count
        var = all_reduce(((x - mean) ** 2).sum(0)) / count
        with torch.no_grad():  # the running statistics as BatchNorm1d keeps them (unbiased variance)
            m = self.momentum
            self.running_mean.mul_(1 - m).add_(m * mean.detach())
            self.running_var.mul_(1 - m).add_(m * var.detach() * count / (count - 1))
            self.num_batches_tracked.add_(1)
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias


def use_global_batch_norms(module: nn.Module) -> nn.Module:
    """Swap every ``BatchNorm1d`` of ``module`` (in place) for a :class:`GlobalBatchNorm1d` holding
    the same parameters and buffers: the state dict's keys and values stay as they are."""
    for name, child in module.named_children():
        if type(child) is nn.BatchNorm1d:
            if child.momentum is None or not child.affine or not child.track_running_stats:
                raise ValueError("GlobalBatchNorm1d covers BatchNorm1d with a momentum, affine and running statistics")
            new = GlobalBatchNorm1d(child.num_features, child.eps, child.momentum)
            new.weight, new.bias = child.weight, child.bias
            new.running_mean, new.running_var, new.num_batches_tracked = child.running_mean, child.running_var, child.num_batches_tracked
            new.train(child.training)
            setattr(module, name, new)
        else:
            use_global_batch_norms(child)
    return module


def mean_over_ranks(value: float, ranks: Ranks) -> float:
    """The mean of a per-rank number over the ranks (itself in one process)."""
    if not ranks.distributed:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t) / ranks.world_size


def barrier(ranks: Ranks) -> None:
    """Wait for every rank (a file rank 0 writes is there for the others afterwards)."""
    if ranks.distributed:
        dist.barrier()
