"""simpose.export: result files (``poses.npz``/``poses.json``, BVH, OBJ meshes), written atomically."""
