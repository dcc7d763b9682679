"""The temporal 2D-to-3D lifter: 2D keypoint sequences (+ confidences) to root-relative 3D in metres.

Network: dilated temporal convolutions (VideoPose3D-style; receptive field ``RF`` = the product
of ``filter_widths``, 27 frames by default), trained on synthetic humans only
(:mod:`simpose.train.lifter`). It sees the ``h36m17`` joints (other input sets are converted by
name, missing joints get confidence 0) and predicts the ``h36m17`` and the native ``anny``
joints together (one head over the union, ``OUTPUT_SETS``), twice: for the window's centre
frame (offline) and for its last frame (causal: no look at the future, for streaming).

Input normalisation (:func:`normalize_keypoints`), the input contract of the shipped weights:

1. pixels to normalised image coordinates ``(u - c) / f`` with the intrinsics K when given
   (and the lens distortion undone for a :class:`~simpose.camera.Camera` that has one). With no
   camera, pixels are used as they are (square pixels assumed): steps 2-3 make the result the
   same anyway, since centring removes ``c`` and the scale removes ``f``.
2. centring: every frame minus its pelvis (``h36m17`` pelvis).
3. scaling by a per-clip 2D size: the median, over ``SCALE_FRAMES`` frames around each frame
   (:func:`sliding_scales`; in the causal mode the last ``SCALE_FRAMES`` up to it), of the
   frame's confidence-weighted RMS distance of the joints to the pelvis (:func:`frame_sizes`).
   Training takes that median over spans of 27 to 500 frames (``SamplerConfig.scale_span``),
   so a long video is not scaled by one median of all its frames: a person walking from 3 to
   7 m away would be 2D-scaled by a size that fits neither end, an input training never shows.
4. joints with confidence 0 (not detected, outside the image) are zeroed; the confidence is the
   third input channel of every joint.

The input is therefore invariant to image translation and scale, i.e. to the camera's
distance and focal length: the network cannot see the person's metric size, and predicts metres
because bodies have a typical size (the synthetic training bodies span children to elders;
errors in absolute scale are what protocol #2's Procrustes alignment forgives).

Frame rate: the network learned motion at the joint cache's rate (50 fps, ``Lifter.fps``) with
playback speeds of 0.67-1.5x. Given ``fps``, a track at another rate is lifted resampled to it
(linearly; :func:`resample_track`) and the 3D is taken back at the track's own frames
(:func:`resample_to_frames`): a 12.5 fps Human3.6M track then scores as the 50 fps one does
(protocol #1 79.3 vs 79.2 mm), where taken as it is it loses 10 mm
(``benchmarks/lifter_frame_rate.py``).

Output: ``(T, J, 3)`` metres in the camera's axes (x right, y down, z forward), each set
relative to its own root (``h36m17``: pelvis; ``anny``: ``root``).

Virtual camera (when a camera is given): centring in step 2 throws away where the person is in
the image, yet a person seen off the optical axis is seen along a different ray, so the same
image pose means a rotated camera-frame pose. With intrinsics, every frame is first re-projected
into a virtual camera that shares the camera's centre and looks straight at the pelvis
(:func:`pelvis_view_rotations`; its x axis stays horizontal in the camera's x-z plane), as the
training cameras do (they aim at the pelvis); the prediction is rotated back into the real
camera's axes. Without a camera the pixels are used as they are and nothing is rotated.

Modules: :mod:`simpose.models.lifter_input` (joint layout, normalisation, resampling, mirroring),
:mod:`simpose.models.lifter_net` (the network), this one (weights, card, ``Lifter``, ``LifterStream``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import numpy as np
import torch

from simpose.body.joints import convert, get_joint_set
from simpose.camera import image_to_normalised
from simpose.geometry import track_at
from simpose.models.lifter_input import (
    HEAD_CAUSAL, HEAD_CENTRE, INPUT_SET, INPUT_SETS, OUTPUT_SETS, SCALE_FRAMES, TRAINING_FPS, clip_scale, frame_sizes, mirror_input,
    mirror_output, normalize_keypoints, output_roots, output_slices, pelvis_view_rotations, rate_positions,
    resample_to_frames, resample_track, sliding_scales, to_pelvis_view,
)  # fmt: skip
from simpose.models.lifter_net import TemporalLifterNet

logger = logging.getLogger(__name__)

__all__ = ["WEIGHTS_PATH", "CARD_PATH", "DETECTOR_WEIGHTS_PATH", "Lifter", "LifterStream", "InputContract", "LifterCardError"]

WEIGHTS_PATH = Path(__file__).parent / "weights" / "lifter.pt"
CARD_PATH = WEIGHTS_PATH.with_suffix(".json")
# The detector lifter: BlazePose-33 landmarks as MediaPipe gives them (the Estimator's default for video)
DETECTOR_WEIGHTS_PATH = WEIGHTS_PATH.with_name("lifter_blazepose33.pt")


def _check_output_set(name: str) -> None:
    if name not in OUTPUT_SETS:
        raise ValueError(f"output_set must be one of {OUTPUT_SETS}, got {name!r}")


class LifterCardError(ValueError):
    """A weights card whose input contract the code cannot honour (or that lacks one)."""


@dataclasses.dataclass(frozen=True)
class InputContract:
    """What a lifter's weights expect and give, read from their card (``input`` / ``output``).

    Attributes:
        joint_set: the 2D's joint set (``input.joint_set``).
        scale_frames: frames over which the per-clip 2D size is taken (``input.scale_frames``;
            :func:`sliding_scales`).
        fps: the frame rate of the training windows (``input.fps``): other rates are resampled.
        output_sets: the joint sets on the network's output axis, in order (``output.joint_sets``).
    """

    joint_set: str = INPUT_SET
    scale_frames: int = SCALE_FRAMES
    fps: float = TRAINING_FPS
    output_sets: tuple[str, ...] = OUTPUT_SETS

    def to_card(self) -> dict:
        """The card fields this contract is read from (``{"input": {...}, "output": {...}}``)."""
        return {"input": {"joint_set": self.joint_set, "scale_frames": self.scale_frames, "fps": self.fps}, "output": {"joint_sets": list(self.output_sets)}}

    @staticmethod
    def from_card(card: dict, net_config: dict | None = None, where: str = "card") -> InputContract:
        """Read and check a card's contract against this code (and the network's sizes).

        Raises:
            LifterCardError: a field is missing or names what the code cannot do (another input
                set, other output sets or order, a size that does not match the network).
        """
        inp, out = card.get("input", {}), card.get("output", {})
        missing = [f"input.{k}" for k in ("joint_set", "scale_frames", "fps") if k not in inp] + (["output.joint_sets"] if "joint_sets" not in out else [])
        if missing:
            raise LifterCardError(f"{where}: the weights' card lacks {', '.join(missing)} (their input contract)")
        c = InputContract(str(inp["joint_set"]), int(inp["scale_frames"]), float(inp["fps"]), tuple(out["joint_sets"]))
        if c.joint_set not in INPUT_SETS:
            raise LifterCardError(f"{where}: input.joint_set {c.joint_set!r}, but this code lifts 2D of {list(INPUT_SETS)} only")
        if c.output_sets != OUTPUT_SETS:
            raise LifterCardError(f"{where}: output.joint_sets {list(c.output_sets)}, but this code reads {list(OUTPUT_SETS)} (in that order)")
        if not (c.scale_frames >= 1 and c.fps > 0):
            raise LifterCardError(f"{where}: input.scale_frames must be >= 1 and input.fps > 0, got {c.scale_frames}, {c.fps}")
        if net_config is not None:
            n_in, n_out = len(get_joint_set(c.joint_set)), sum(len(get_joint_set(n)) for n in c.output_sets)
            if net_config.get("in_joints", n_in) != n_in or net_config.get("out_joints", n_out) != n_out:
                raise LifterCardError(
                    f"{where}: the network has {net_config.get('in_joints')} input / {net_config.get('out_joints')} output joints, "
                    f"the card's sets {n_in} / {n_out}"
                )
        return c


class Lifter:
    """2D keypoint sequences to root-relative 3D joints (metres, camera axes).

    Args:
        net: the network (put in eval mode).
        card: the weights' card (training recipe, metrics, and the input contract: its
            ``input``/``output`` fields are read by :meth:`InputContract.from_card`).
        contract: the input contract; None: the card's, or the code's defaults without a card.
    """

    name = "simpose-lifter"

    def __init__(self, net: TemporalLifterNet, card: dict | None = None, flip: bool = True, contract: InputContract | None = None) -> None:
        self.net = net.eval()
        self.flip = flip
        self.card = card or {}
        if contract is None:
            contract = InputContract.from_card(self.card) if self.card else InputContract()
        self.contract = contract
        self.receptive_field = net.receptive_field
        self._slices = output_slices()
        # the rate of the training windows: tracks at other rates are resampled to it
        self.fps = contract.fps
        self.scale_frames = contract.scale_frames
        self.input_set = contract.joint_set  # the 2D set the network sees; other sets are converted by name

    @staticmethod
    def from_pretrained(path: str | Path | None = None) -> Lifter:
        """Load shipped weights (``weights/lifter.pt`` and its card ``lifter.json``) or a checkpoint.

        Args:
            path: a ``.pt`` written by :func:`save_weights` or the training loop; None: the shipped one.
        """
        path = Path(path) if path is not None else WEIGHTS_PATH
        if not path.exists():
            raise FileNotFoundError(f"{path}: no lifter weights (train them: python -m simpose.train.lifter --out DIR)")
        blob = torch.load(path, map_location="cpu", weights_only=True)
        card_path = path.with_suffix(".json")
        if card_path.exists():
            card = json.loads(card_path.read_text())
            contract = InputContract.from_card(card, blob["net_config"], where=str(card_path))  # before building: a clear error first
        else:
            logger.warning("%s: no card beside the weights; assuming the code's input contract %s", path, InputContract())
            card, contract = {}, InputContract()
        net = TemporalLifterNet(**blob["net_config"])
        net.load_state_dict(blob["state_dict"])
        return Lifter(net, card, contract=contract)

    # -------------------------------------------------------------- inputs
    def _inputs(self, joints2d, joint_set: str | None, confidence) -> tuple[np.ndarray, np.ndarray]:
        joint_set = joint_set or self.input_set
        x = np.asarray(joints2d, dtype=np.float64)
        if x.ndim != 3 or x.shape[-1] != 2:
            raise ValueError(f"joints2d must be (T, J, 2) pixels, got {x.shape}")
        conf = np.ones(x.shape[:2]) if confidence is None else np.asarray(confidence, dtype=np.float64)
        if conf.shape != x.shape[:2]:
            raise ValueError(f"confidence must be (T, J) = {x.shape[:2]}, got {conf.shape}")
        if joint_set != self.input_set:
            conf = np.where(np.isfinite(x).all(-1), conf, 0.0)
            x = convert(x, joint_set, self.input_set, strict=False)
            conf = convert(conf[..., None], joint_set, self.input_set, strict=False)[..., 0]
            conf = np.nan_to_num(conf, nan=0.0)
        return x, conf

    def _resamples(self, fps: float | None) -> bool:
        """Whether a track at ``fps`` is lifted resampled: its rate is known and differs from
        :attr:`fps` by more than 0.1%."""
        return fps is not None and abs(fps / self.fps - 1.0) > 1e-3

    def at_training_rate(self, x: np.ndarray, conf: np.ndarray, camera, fps: float | None):
        """Resample a track to :attr:`fps` when it is at another rate (beyond 0.1%).

        Args:
            x, conf: (T, J_in, 2) pixels and (T, J_in), as :meth:`_inputs` returns them.
            camera: as for :meth:`predict`; one per frame is fine (the pixels are made
                normalised coordinates at their own frames first).
            fps: the track's rate; None: it is at the training rate already.
        Returns:
            ``(x, conf, camera, resampled)``: the track to lift and the camera to lift it with
            (the identity K when the coordinates are normalised already), and whether it was
            resampled (then map the outputs back with :func:`resample_to_frames`).
        """
        if not self._resamples(fps) or len(x) <= 1:
            return x, conf, camera, False
        if camera is not None:
            x, camera = image_to_normalised(x, camera), np.eye(3)
        x, conf = resample_track(x, conf, fps, self.fps)
        return x, conf, camera, True

    def _view(self, x: np.ndarray, conf: np.ndarray, camera) -> tuple[np.ndarray, np.ndarray | None]:
        """Pixels -> (coordinates the network's normalisation takes, per-frame R or None): with a
        camera, the rays re-projected into the pelvis-view virtual cameras (module docstring)."""
        if camera is None:
            return x, None
        xy = image_to_normalised(x, camera)
        R = pelvis_view_rotations(xy, np.where(np.isfinite(xy).all(-1), conf, 0.0), self.input_set)
        return to_pelvis_view(xy, R), R

    @staticmethod
    def _unview(y: np.ndarray, R: np.ndarray | None) -> np.ndarray:
        """(T, J, 3) virtual-camera predictions -> camera axes (``R^T y`` per frame)."""
        return y if R is None else np.einsum("tji,tkj->tki", R, y).astype(np.float32)

    def _select(self, out: np.ndarray, output_set: str) -> np.ndarray:
        joints = out[..., self._slices[output_set], :]
        root = output_roots()[output_set]
        return joints - joints[..., root : root + 1, :]

    # -------------------------------------------------------------- predict
    def predict(
        self,
        joints2d: np.ndarray,
        joint_set: str | None = None,
        confidence: np.ndarray | None = None,
        camera=None,
        output_set: str = "h36m17",
        causal: bool = False,
        chunk: int = 4096,
        fps: float | None = None,
    ) -> np.ndarray:
        """Lift one 2D sequence.

        Args:
            joints2d: (T, J, 2) pixels in ``joint_set`` (NaN: missing).
            joint_set: the input's joint set (None: :attr:`input_set`); converted by name to the set the weights take (:attr:`input_set`).
            confidence: (T, J) in [0, 1], or None (all 1).
            camera: None, a (3, 3) intrinsics matrix K, or a :class:`~simpose.camera.Camera`.
            output_set: ``"h36m17"`` or ``"anny"``.
            causal: predict each frame from it and the ``RF - 1`` frames before it only (the
                streaming mode; per-clip size from past frames, :func:`sliding_scales`).
            chunk: frames per batch element in the offline mode.
            fps: the sequence's frame rate. At another rate than the training windows'
                (:attr:`fps`, 50) the track is lifted resampled to that rate and the 3D taken back
                at its own frames (:meth:`at_training_rate`); None: it is taken as at that rate.
        Returns:
            (T, J_out, 3) float32 metres, camera axes, relative to the set's root.
        """
        return self.predict_sets(joints2d, joint_set, confidence, camera, (output_set,), causal, chunk, fps)[output_set]

    @torch.no_grad()
    def predict_sets(
        self,
        joints2d: np.ndarray,
        joint_set: str | None = None,
        confidence: np.ndarray | None = None,
        camera=None,
        output_sets: tuple[str, ...] = OUTPUT_SETS,
        causal: bool = False,
        chunk: int = 4096,
        fps: float | None = None,
    ) -> dict[str, np.ndarray]:
        """:meth:`predict` for several output sets from one network pass: {set: (T, J_set, 3)}."""
        for name in output_sets:
            _check_output_set(name)
        x, conf = self._inputs(joints2d, joint_set, confidence)
        if x.shape[0] == 0:
            return {name: np.zeros((0, len(get_joint_set(name)), 3), dtype=np.float32) for name in output_sets}
        T = len(x)
        x, conf, camera, resampled = self.at_training_rate(x, conf, camera, fps)
        out = self._predict_all(x, conf, camera, causal, chunk)
        if resampled:
            out = resample_to_frames(out, T, fps, self.fps, causal)
        return {name: self._select(out, name) for name in output_sets}

    def differentiable(
        self, joints2d: np.ndarray, joint_set: str | None = None, confidence: np.ndarray | None = None, camera=None,
        output_set: str = "anny", fps: float | None = None,
    ):  # fmt: skip
        """The offline :meth:`predict` of one sequence as a function of the network's weights.

        Everything that depends on the 2D only (conversion, resampling, the view cameras, the
        normalisation, the mirrored input) is prepared once here; the returned function runs the
        network (input and mirror, averaged as :meth:`_centre_head` does) with autograd on, so a
        loss on its output reaches :attr:`net`'s weights (test-time adaptation through the
        output, :mod:`simpose.adapt.network`). One batch of the whole sequence (no chunks).

        Args: as :meth:`predict` (offline mode), one output set.
        Returns:
            a function of no argument -> (T, J_set, 3) float32 tensor, metres, camera axes,
            relative to the set's root: :meth:`predict`'s numbers (to float32 rounding).
        """
        _check_output_set(output_set)
        x, conf = self._inputs(joints2d, joint_set, confidence)
        T = len(x)
        if T == 0:
            raise ValueError("an empty sequence has nothing to lift")
        x, conf, camera, resampled = self.at_training_rate(x, conf, camera, fps)
        padded, R = self.offline_input(x, conf, camera)
        inputs = torch.from_numpy(padded)[None]  # (1, T' + RF - 1, 3 J_in)
        if self.flip:
            inputs = torch.cat([inputs, mirror_input(inputs.view(1, len(padded), -1, 3), self.input_set).view(1, len(padded), -1)])
        R_t = None if R is None else torch.from_numpy(np.asarray(R, np.float32))
        # back to the sequence's own frames: resample_to_frames is linear, so it is a matrix (T, T')
        back = torch.from_numpy(resample_to_frames(np.eye(len(x), dtype=np.float32), T, fps, self.fps)) if resampled else None
        sl, root = self._slices[output_set], output_roots()[output_set]

        def run() -> torch.Tensor:
            out = self.net(inputs)[:, :, HEAD_CENTRE]  # (1 or 2, T', J_all, 3)
            y = (out[0] + mirror_output(out[1])) / 2 if self.flip else out[0]
            if R_t is not None:  # virtual cameras -> camera axes (R^T y per frame)
                y = torch.einsum("tji,tkj->tki", R_t, y)
            if back is not None:
                y = torch.einsum("ts,sjk->tjk", back, y)
            y = y[:, sl]
            return y - y[:, root : root + 1]

        return run

    def _features(self, x: np.ndarray, conf: np.ndarray, camera, causal: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(T, J_in, 3) normalised features before the 2D scale, the (T,) per-frame 2D scales
        (:func:`sliding_scales`) and the view rotations (None without a camera)."""
        x, R = self._view(x, conf, camera)
        feats, _ = normalize_keypoints(x, conf, None, scale=1.0, joint_set=self.input_set)
        scales = sliding_scales(frame_sizes(feats[..., :2], feats[..., 2], self.input_set), self.scale_frames, causal=causal).astype(np.float32)
        return feats, scales, R

    def offline_input(self, x: np.ndarray, conf: np.ndarray, camera) -> tuple[np.ndarray, np.ndarray | None]:
        """The offline mode's network input for a whole sequence.

        Args:
            x, conf: (T, J_in, 2) and (T, J_in) as :meth:`_inputs` returns them (T >= 1).
            camera: as for :meth:`predict`.
        Returns:
            (T + RF - 1, 3 J_in) features, every frame scaled by its own span's 2D size and
            replicate-padded by RF // 2 at both ends (output i belongs to frame i), and the
            per-frame view rotations (None without a camera).
        """
        feats, scales, R = self._features(x, conf, camera)
        feats[..., :2] /= scales[:, None, None]
        half = self.receptive_field // 2
        padded = np.concatenate([np.repeat(feats[:1], half, 0), feats, np.repeat(feats[-1:], half, 0)])
        return padded.reshape(len(padded), -1), R

    @torch.no_grad()
    def _predict_all(self, x: np.ndarray, conf: np.ndarray, camera, causal: bool = False, chunk: int = 4096) -> np.ndarray:
        """Every output joint of :meth:`predict` before the set is chosen: (T, J_all, 3) camera axes.

        ``x``/``conf`` as :meth:`_inputs` returns them (:attr:`input_set`, T >= 1); :meth:`_select`
        picks a set, so one network pass can give both sets.
        """
        T = x.shape[0]
        RF = self.receptive_field
        if causal:  # every window scaled by its last frame's size, as the stream sees it
            feats, scales, R = self._features(x, conf, camera, causal=True)
            idx = np.clip(np.arange(T)[:, None] + np.arange(-RF + 1, 1)[None], 0, None)  # (T, RF) replicate-padded
            windows = feats[idx]  # (T, RF, J, 3)
            windows[..., :2] /= scales[:, None, None, None]
            out = []
            for s in range(0, T, chunk):
                w = torch.from_numpy(windows[s : s + chunk].reshape(-1, RF, windows.shape[2] * 3))
                out.append(self.net.forward_windows(w)[:, HEAD_CAUSAL].numpy())
            return self._unview(np.concatenate(out), R)
        padded, R = self.offline_input(x, conf, camera)
        # Batched sliding windows: cut the padded sequence into chunks overlapping by RF - 1.
        starts = list(range(0, T, chunk))
        n = min(chunk, T)
        pieces = [padded[s : s + n + RF - 1] for s in starts]
        if len(pieces[-1]) < n + RF - 1:  # last piece: pad with its last frame, trim after
            last = pieces[-1]
            pieces[-1] = np.concatenate([last, np.repeat(last[-1:], n + RF - 1 - len(last), 0)])
        y = self._centre_head(np.stack(pieces))  # (P, n, J_all, 3)
        y = y.reshape(-1, *y.shape[2:])[:T]
        return self._unview(y, R)

    def _centre_head(self, pieces: np.ndarray) -> np.ndarray:
        """(P, n + RF - 1, 3 J_in) padded features -> (P, n, J_all, 3) centre-head output,
        averaged with the output for the mirrored input mirrored back (test-time flipping:
        the network is trained on mirrored windows too, so the two are equally good guesses and
        their mean cancels part of each one's error)."""
        x = torch.from_numpy(pieces)
        y = self.net(x)[:, :, HEAD_CENTRE]
        if not self.flip:
            return y.numpy()
        P, L, _ = x.shape
        xf = mirror_input(x.view(P, L, -1, 3), self.input_set).view(P, L, -1)
        yf = mirror_output(self.net(xf)[:, :, HEAD_CENTRE])
        return ((y + yf) / 2).numpy()

    def stream(self, joint_set: str | None = None, camera=None, output_set: str = "h36m17", fps: float | None = None) -> LifterStream:
        """A frame-by-frame (causal) predictor; gives the same numbers as ``predict(causal=True, fps=fps)``."""
        return LifterStream(self, joint_set, camera, output_set, fps)


class LifterStream:
    """Streaming lifting: push one frame of 2D, get that frame's 3D (no look-ahead).

    Keeps the last ``RF`` frames and the last ``scale_frames`` frame sizes (the weights' contract). With ``fps`` at
    another rate than the lifter's (:attr:`Lifter.fps`), every push makes the frames of the
    track resampled to that rate that fall up to it (interpolated with the frame before, as
    :func:`resample_track` does), lifts them, and returns the last one's 3D: the numbers of
    ``predict(causal=True, fps=fps)``.
    """

    def __init__(self, lifter: Lifter, joint_set: str | None = None, camera=None, output_set: str = "h36m17", fps: float | None = None) -> None:
        _check_output_set(output_set)
        self.lifter, self.joint_set, self.camera, self.output_set = lifter, joint_set, camera, output_set
        self._window: np.ndarray | None = None  # (RF, J, 3) the last RF frames' features, oldest first
        self._sizes = np.full(lifter.scale_frames, np.nan)  # the last scale_frames frame sizes, oldest first
        if lifter._resamples(fps):
            rate_positions(2, fps, lifter.fps)  # the same bounds as the offline path (MAX_UPSAMPLING)
        self._ratio = fps / lifter.fps if lifter._resamples(fps) else None  # input frames per lifted frame
        self._pushed = 0  # input frames so far
        self._made = 0  # resampled frames so far
        self._prev: tuple[np.ndarray, np.ndarray] | None = None  # the last input frame (normalised with a camera) and its confidence
        self._last: np.ndarray | None = None  # the last output

    @torch.no_grad()
    def push(self, joints2d: np.ndarray, confidence: np.ndarray | None = None) -> np.ndarray:
        """joints2d: (J, 2) pixels, confidence (J,) or None -> (J_out, 3) metres for this frame."""
        conf = None if confidence is None else np.asarray(confidence)[None]
        x, c = self.lifter._inputs(np.asarray(joints2d)[None], self.joint_set, conf)
        if self._ratio is None:
            return self._lift(x, c, self.camera)
        camera = None
        if self.camera is not None:
            x, camera = image_to_normalised(x, self.camera), np.eye(3)
        i = self._pushed
        # the frames known so far that a resampled frame can need: this one and the one before
        xs, cs = (x, c) if self._prev is None else (np.concatenate([self._prev[0], x]), np.concatenate([self._prev[1], c]))
        first = i + 1 - len(xs)  # input index of xs[0]
        while self._made * self._ratio <= i + 1e-9:  # the resampled frames up to this one
            xk, ck = track_at(xs, cs, np.array([self._made * self._ratio - first]))  # as resample_track
            self._last = self._lift(xk, ck, camera)
            self._made += 1
        self._prev, self._pushed = (x, c), i + 1
        return self._last

    def _lift(self, x: np.ndarray, c: np.ndarray, camera) -> np.ndarray:
        """One frame at the lifter's rate: (1, J_in, 2), (1, J_in) -> (J_out, 3)."""
        x, R = self.lifter._view(x, c, camera)
        feats, _ = normalize_keypoints(x, c, None, scale=1.0, joint_set=self.lifter.input_set)  # (1, J, 3)
        self._sizes[:-1] = self._sizes[1:]
        self._sizes[-1] = frame_sizes(feats[..., :2], feats[..., 2], self.lifter.input_set)[0]
        RF = self.lifter.receptive_field
        if self._window is None:  # the first frame stands in for the frames before it
            self._window = np.repeat(feats, RF, axis=0)
        else:
            self._window[:-1] = self._window[1:]
            self._window[-1] = feats[0]
        window = self._window.copy()
        window[..., :2] /= np.float32(clip_scale(self._sizes))
        y = self.lifter.net.forward_windows(torch.from_numpy(window.reshape(1, RF, -1)))[:, HEAD_CAUSAL].numpy()
        return self.lifter._select(self.lifter._unview(y, R), self.output_set)[0]
