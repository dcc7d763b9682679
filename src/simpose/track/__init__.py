"""simpose.track: video to 3D motion, the pipeline behind ``simpose run``.

- :mod:`~simpose.track.estimator`: ``Estimator`` (video or 2D in memory -> ``PoseSequence``), the path run, eval and benchmarks share.
- :mod:`~simpose.track.run`: ``run_video(path, out_dir, RunConfig()) -> RunResult``.
- :mod:`~simpose.track.position`: closed-form camera-frame translation and its smoothing.
- :mod:`~simpose.track.views`: overlay.mp4, skeleton3d.mp4, summary.png.
"""
