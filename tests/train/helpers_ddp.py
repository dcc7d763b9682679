"""Run by tests/train/test_lifter_ddp.py, under ``torchrun --nproc_per_node N`` or as one process:
a tiny lifter run of 4 steps in ``OUT/full``, and the same run stopped after 2 steps and resumed
in ``OUT/split``.

    python helpers_ddp.py CONFIG.json CACHE_DIR OUT
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from simpose.train.lifter import TrainConfig, _from_dict, train
from simpose.train.distributed import teardown


def main() -> None:
    config, cache_dir, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    cfg = _from_dict(TrainConfig, json.loads(Path(config).read_text()))
    try:
        train(out / "full", cfg, cache_dir=cache_dir, progress=False)
        assert train(out / "split", cfg, cache_dir=cache_dir, progress=False, stop_after=2) is None
        train(out / "split", cfg, cache_dir=cache_dir, progress=False, resume=True)
    finally:
        teardown()


if __name__ == "__main__":
    main()
