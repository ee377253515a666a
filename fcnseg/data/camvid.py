"""CamVid in the SegNet layout: `train/`, `trainannot/`, `val/`, `valannot/`, `test/`, `testannot/`.

Brostow, Fauqueur and Cipolla, "Semantic object classes in video: A high-definition
ground truth database", Pattern Recognition Letters 2009; 11-class version of
Badrinarayanan et al., "SegNet", TPAMI 2017. Labels are index PNGs; 11 is void.
"""

from fcnseg.data.decode import index_pair_decoder, index_table
from fcnseg.data.source import FileLayout, check_split, existing_dir, list_images
from fcnseg.data.specs import IGNORE_LABEL, DatasetSpec

SPLITS = ("train", "val", "test")
SPEC = DatasetSpec(
    "camvid",
    ("sky", "building", "pole", "road", "pavement", "tree", "sign_symbol", "fence", "car", "pedestrian", "bicyclist"),
    # The colours of SegNet's CamVid tutorial.
    (
        (128, 128, 128),
        (128, 0, 0),
        (192, 192, 128),
        (128, 64, 128),
        (60, 40, 222),
        (128, 128, 0),
        (192, 128, 128),
        (64, 64, 128),
        (64, 0, 128),
        (64, 64, 0),
        (0, 128, 192),
    ),
)
_VOID = 11
_TABLE = index_table(SPEC.num_classes, ignored=(_VOID, IGNORE_LABEL))
VALID_VALUES = "0..10, 11 (void) or 255"


def spec(data_dir=None):
    return SPEC


def layout(data_dir, split):
    """CamVid's `split` under `data_dir`: images in `<split>/`, labels of the same name in `<split>annot/`."""
    check_split("camvid", split, SPLITS)
    images = existing_dir(existing_dir(data_dir, "CamVid") / split, f"CamVid {split} images")
    labels = existing_dir(images.parent / f"{split}annot", f"CamVid {split} labels")
    decode = index_pair_decoder(_TABLE, VALID_VALUES)
    return FileLayout(
        SPEC,
        list_images(images),
        lambda image: labels / image.name,
        list_images(labels),
        decode,
        "index",
        f"camvid {split} ({images})",
        _TABLE,
    )


def source(data_dir, split, *, skip_bad_files=False):
    """CamVid's `split` under `data_dir` (see `layout`)."""
    return layout(data_dir, split).source(skip_bad_files)
