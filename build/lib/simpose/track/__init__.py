"""simpose.track: video to 3D motion, the pipeline behind ``simpose run``.

- :mod:`~simpose.track.run`: ``run_video(path, out_dir, RunConfig()) -> RunResult``.
- :mod:`~simpose.track.detect`: the 2D stage (MediaPipe over a frame range, cached, stoppable).
- :mod:`~simpose.track.keypoint_map`: BlazePose landmarks to H36M joints (fitted on synthetic bodies).
- :mod:`~simpose.track.position`: closed-form camera-frame translation, smoothing, 2D alignment.
- :mod:`~simpose.track.views`: overlay.mp4, skeleton3d.mp4, summary.png.
"""
