"""File loading and validation shared by the readers: every failure is a DatasetError naming the file."""

from __future__ import annotations

import json
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from simpose.data.records import DatasetError

__all__ = ["existing", "load_json", "load_npz", "load_pickle", "require_keys", "array", "check_finite"]


def existing(path: str | Path, what: str = "file") -> Path:
    """``path`` as a Path; a DatasetError if it does not exist."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such {what}")
    return path


def load_json(path: str | Path) -> Any:
    path = existing(path)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: not a JSON file ({exc})") from exc


def load_npz(path: str | Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The arrays ``keys`` of a ``.npz`` file (pickled objects allowed: the lifting-code layouts need them)."""
    path = existing(path)
    try:
        z = np.load(path, allow_pickle=True)
    except Exception as exc:  # noqa: BLE001 - numpy raises many types for a file that is not an npz
        raise DatasetError(f"{path}: not a readable .npz file ({type(exc).__name__}: {exc})") from exc
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise DatasetError(f"{path}: a single .npy array, expected an .npz archive with {list(keys)}")
    with z:
        require_keys(z.files, keys, path)
        try:
            return {k: z[k] for k in keys}
        except Exception as exc:  # noqa: BLE001 - a damaged member
            raise DatasetError(f"{path}: cannot read {list(keys)} ({type(exc).__name__}: {exc})") from exc


def load_pickle(path: str | Path) -> Any:
    """A pickle written by Python 2 or 3 (``latin1`` decodes Python 2 byte strings and numpy arrays).

    Only for dataset files you trust: unpickling can run code.
    """
    path = existing(path)
    try:
        with open(path, "rb") as f:
            return pickle.load(f, encoding="latin1")
    except Exception as exc:  # noqa: BLE001 - unpickling a wrong file raises many types
        raise DatasetError(f"{path}: not a readable pickle file ({type(exc).__name__}: {exc})") from exc


def require_keys(mapping: Mapping | list | tuple, keys, path: Path, what: str = "") -> None:
    present = set(mapping)
    missing = [k for k in keys if k not in present]
    if missing:
        where = f" in {what}" if what else ""
        raise DatasetError(f"{path}: missing {missing}{where} (found {sorted(map(str, present))})")


def array(value: Any, path: Path, key: str, shape: tuple[int | None, ...], dtype=np.float64) -> np.ndarray:
    """``value`` as an array of ``shape`` (None: any size); lists of per-person arrays are stacked."""
    try:
        out = np.asarray(value, dtype=dtype)
    except (ValueError, TypeError) as exc:
        raise DatasetError(f"{path}: {key} is not a numeric array of shape {_fmt(shape)} ({exc})") from exc
    if out.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, out.shape)):
        raise DatasetError(f"{path}: {key} has shape {out.shape}, expected {_fmt(shape)}")
    return out


def check_finite(values: np.ndarray, path: Path, key: str, where: np.ndarray | None = None) -> None:
    """DatasetError if ``values`` has NaN/inf (only rows where ``where`` is True, if given)."""
    bad = ~np.isfinite(values)
    if where is not None:
        bad &= where.reshape(where.shape + (1,) * (bad.ndim - where.ndim))
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise DatasetError(f"{path}: {key} has {int(bad.sum())} non-finite values in the ground truth (first at index {first})")


def _fmt(shape: tuple[int | None, ...]) -> str:
    return "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
