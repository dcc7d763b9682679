"""simpose.data: dataset readers and the records they yield.

- ``records``: ``PersonAnnotation``, ``Sample``, ``Sequence``, ``DatasetError``.
- ``h36m``: Human3.6M (lifting-code layout, VideoPose3D 2D detections, single frames).
- ``pw3d``: 3DPW official sequence files.
- ``mpi_inf_3dhp``: MPI-INF-3DHP test set (``annot_data.mat``).
- ``coco``: COCO keypoints ground truth and detection results.
- ``posetrack``: PoseTrack18.
- ``multiview_calib``: calibrations of synchronised camera rigs (``calib.json``, Qualisys ``.qca.txt``).
- ``paths``: where the project's shared data folder is.

Nothing is imported here: ``import simpose.data.h36m`` etc.
"""
