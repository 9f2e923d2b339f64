"""Image data as `tf.data` pipelines: TFDS by name, IDX folders, image folders.

`load(name, batch_size=...)` returns a batched, seeded-shuffled, cached,
prefetched `tf.data.Dataset` of float32 images `[B, H, W, C]` in [-1, 1], or
`(images, labels)` pairs with `with_labels=True`. Sources are found by name in
`SOURCES`; each is one file returning an unbatched dataset of uint8 images, and
`pipeline.py` does the rest. Adding a source means one file and one line.

Held-out images: `holdout=0.2, part="train"` keeps the 80% a run trains on,
`part="heldout"` the seeded other 20% (by index, see `split.py`, whose `plan`
says which to use for a run), for the same `holdout`/`holdout_seed` in `load`
and `arrays`.

Name resolution: `"idx"` and `"folder"` read `data_dir`; any other name is a
TFDS dataset, except that a `data_dir` of IDX files is read as such under
`mnist`, `fashion_mnist` and `kmnist` (so `load("mnist", data_dir="../shared/data/mnist")`
reads the local IDX copy of MNIST). A `data_dir` of images under a TFDS name,
or of IDX files under another one, is a `DataError` asking for `"folder"` or `"idx"`.
"""

from kgan.data import folder, idx, pipeline, split, tfds
from kgan.data.loader import SOURCES, arrays, image_shape, load, num_classes, source_for

__all__ = ["SOURCES", "arrays", "folder", "idx", "image_shape", "load", "num_classes", "pipeline", "source_for", "split", "tfds"]
