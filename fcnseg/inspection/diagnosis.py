"""What a dataset's raw label values look like, when they are not what its reader expects.

Each diagnosis reads the raw values (or colours) of every label file, summed, before any
reader maps them, and names a common mistake with the command that fixes it:

- 0/255 binary masks, whose 255 every reader takes as "ignore" (mmsegmentation #1609);
- Cityscapes label ids (road 7, car 26) given where train ids (road 0) are expected;
- class ids shifted by one (1..n where 0..n-1 is expected);
- colour masks drawn in a known palette (SegNet's CamVid, Cityscapes, KITTI Road, the dataset's
  own) where class indices are expected.
"""

from cityscapesscripts.helpers.labels import labels as CITYSCAPES_LABELS

from fcnseg.data import camvid
from fcnseg.data.specs import IGNORE_LABEL
from fcnseg.inspection.raw_files import pack

# A palette matches when its colours cover this share of the labelled pixels (JPEG blurs the rest).
_PALETTE_SHARE = 0.95


def palettes(spec):
    """Known palettes: name -> {packed colour: what the colour means}."""
    known = {
        "camvid": dict(zip(camvid.SPEC.class_names, camvid.SPEC.colors)),
        "cityscapes": {label.name: label.color for label in CITYSCAPES_LABELS if label.id >= 0},
        "kitti_road": {"not road": (255, 0, 0), "road": (255, 0, 255), "invalid": (0, 0, 0)},
        spec.name: dict(zip(spec.class_names, spec.colors)),
    }
    return {name: {pack(color): meaning for meaning, color in colors.items()} for name, colors in known.items()}


def diagnose(values, colors, spec, layout, fix_command):
    """Diagnoses of summed raw label values and colours, each one line with its fix.

    Args:
        values: dict raw value -> pixel count, over every index label file (may be empty).
        colors: dict packed colour -> pixel count, over every colour label file (may be empty).
        spec: DatasetSpec. The classes the reader maps to.
        layout: FileLayout. Its `label_format` and, for index labels, its reader's `value_table`.
        fix_command: str. `python -m fcnseg.convert ...` up to the mapping options.

    Returns:
        list of str.
    """
    found = []
    present = {value for value, count in values.items() if count}
    classes, table = spec.num_classes, layout.value_table
    if layout.label_format == "index" and present and table is not None:
        refused = {value for value in present if value >= len(table) or table[value] < 0}
        if present <= {0, IGNORE_LABEL} and IGNORE_LABEL in present and classes == 2:
            found.append(
                "0/255 binary masks: 255 is read as 'ignore', so the second class is never learned; "
                f"fix: {fix_command} --value_map=255:1"
            )
        label_ids = {label.id for label in CITYSCAPES_LABELS if label.id >= 0}
        if refused and present <= label_ids | {IGNORE_LABEL} and {7, 11} & present:
            found.append(
                f"Cityscapes label ids (values {_list(present)}; road is 7) where train ids (road 0) are expected; "
                f"fix: {fix_command} --label_ids_to_train_ids"
            )
        elif 0 not in present and refused == {classes} and present - {IGNORE_LABEL} <= set(range(1, classes + 1)):
            mapping = ",".join(f"{value}:{value - 1}" for value in range(1, classes + 1))
            found.append(
                f"class ids shifted by one (values 1..{classes}, where 0..{classes - 1} are expected); "
                f"fix: {fix_command} --value_map={mapping}"
            )
    total = sum(colors.values())
    if layout.label_format == "index" and total:
        for name, palette in palettes(spec).items():
            if sum(count for color, count in colors.items() if color in palette) >= _PALETTE_SHARE * total:
                found.append(
                    f"colour masks drawn in the {name} palette where class indices are expected; "
                    f"fix: {fix_command} --palette={name}"
                )
                break
    return found


def _list(values, most=12):
    values = sorted(values)
    return ", ".join(str(v) for v in values[:most]) + (", ..." if len(values) > most else "")
