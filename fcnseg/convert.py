"""python -m fcnseg.convert (also python -m fcnseg.data.convert): write a dataset split as sharded
TFRecords, or as the `folder` layout with its labels mended.

python -m fcnseg.convert --dataset=camvid --data_dir=CamVid --split=train --output=records/camvid
python -m fcnseg.convert --dataset=cityscapes_pairs --data_dir=pairs --split=train[:-300] --output_split=train \\
    --output=records/pairs
python -m fcnseg.convert --dataset=folder --data_dir=masks_0_255 --split=train --output=masks_fixed \\
    --output_format=folder --value_map=255:1

The folder output reads each label as stored and applies one mapping that
`python -m fcnseg.inspect` may suggest: --value_map, --label_ids_to_train_ids or --palette.
"""

from absl import app, flags

from fcnseg import data
from fcnseg.cli import one_line_errors, start
from fcnseg.cli.dataset_flags import dataset_from_flags, define_dataset_flags
from fcnseg.data import cityscapes, split_expressions, tfrecord
from fcnseg.data.folder_writer import label_id_table, mapped_label, palette_classes, value_table, write_folder
from fcnseg.inspection.diagnosis import palettes

define_dataset_flags()
flags.DEFINE_string("output", None, "Folder to write into: TFRecord shards, or a new folder dataset.")
flags.DEFINE_enum("output_format", "tfrecord", ["tfrecord", "folder"], "Sharded TFRecords, or the folder layout.")
flags.DEFINE_integer("num_shards", 8, "Number of TFRecord files.", lower_bound=1)
flags.DEFINE_string(
    "output_split", None, "The name the written split takes; defaults to --split, which must then be one split's name."
)
flags.DEFINE_list("value_map", [], "Folder output: raw label values to classes, e.g. 255:1 (others kept).")
flags.DEFINE_bool("label_ids_to_train_ids", False, "Folder output: Cityscapes label ids to the 19 train ids.")
flags.DEFINE_string("palette", None, "Folder output: RGB masks in this palette (see inspect) to class indices.")
flags.mark_flag_as_required("output")
FLAGS = flags.FLAGS


def main(argv):
    start(argv)
    with one_line_errors():
        dataset = dataset_from_flags(FLAGS)
        split_expressions.check(FLAGS.split, "--split")
        output_split = FLAGS.output_split or FLAGS.split
        if not split_expressions.is_plain(output_split):
            raise ValueError(
                f"--split={FLAGS.split} is an expression; name the split it is written as with --output_split "
                "(letters, digits and _)."
            )
        if FLAGS.output_format == "folder":
            count = _write_folder(dataset, output_split)
        else:
            mappings = [name for name in ("value_map", "label_ids_to_train_ids", "palette") if FLAGS[name].present]
            if mappings:
                raise ValueError(f"--{mappings[0]} applies to --output_format=folder only.")
            source = data.open_source(dataset.name, dataset.data_dir, FLAGS.split, **dataset.options)
            print(f"Converting {FLAGS.dataset} split {split_expressions.describe(source, FLAGS.split)}", flush=True)
            count = tfrecord.write(source.load(), source.spec, FLAGS.output, output_split, FLAGS.num_shards)
    renamed = f" as split {output_split}" if output_split != FLAGS.split else ""
    written = f"{FLAGS.num_shards} shards in" if FLAGS.output_format == "tfrecord" else "the folder layout in"
    print(f"Wrote {count} examples of {FLAGS.dataset} {FLAGS.split}{renamed} to {written} {FLAGS.output}")


def _value_map(items):
    """{raw value: class} of --value_map items `raw:class`."""
    mapping = {}
    for item in items:
        raw, separator, mapped = item.partition(":")
        if not separator or not raw.strip().isdigit() or not mapped.strip().isdigit():
            raise ValueError(f"--value_map={','.join(items)} is not valid; expected raw:class pairs, e.g. 255:1.")
        mapping[int(raw)] = int(mapped)
    return mapping


def _write_folder(dataset, output_split):
    layouts = data.file_layouts(dataset.name, dataset.data_dir, FLAGS.split, **dataset.options)
    if layouts is None:
        raise ValueError(f"--output_format=folder reads datasets of image and label files; {dataset.name} is not one.")
    if any(layout.label_of is None for layout, _, _ in layouts):
        raise ValueError(f"--output_format=folder: {dataset.name} draws its labels inside its images; nothing to mend.")
    spec = data.dataset_spec(dataset.name, dataset.data_dir, **dataset.options)
    given = [name for name in ("value_map", "label_ids_to_train_ids", "palette") if FLAGS[name].present]
    if len(given) > 1:
        raise ValueError(f"--{given[0]} and --{given[1]} exclude each other; give one mapping.")
    if FLAGS.label_ids_to_train_ids:
        spec = cityscapes.spec()
        map_label = lambda path: mapped_label(path, table=label_id_table())  # noqa: E731
    elif FLAGS.palette:
        known = palettes(spec)
        if FLAGS.palette not in known:
            raise ValueError(f"--palette={FLAGS.palette} is not known; valid palettes: {', '.join(known)}.")
        colors = palette_classes(known[FLAGS.palette], spec)
        if not colors:
            raise ValueError(f"--palette={FLAGS.palette} names none of the classes of {spec.name}.")
        map_label = lambda path: mapped_label(path, colors=colors)  # noqa: E731
    else:
        table = value_table(_value_map(FLAGS.value_map))
        map_label = lambda path: mapped_label(path, table=table)  # noqa: E731
    pairs = []
    for layout, first, last in layouts:
        matched, lonely, _ = layout.matched(first, last)
        if lonely:
            raise FileNotFoundError(f"{lonely[0]}: image has no label; expected {layout.label_of(lonely[0])}.")
        pairs += matched
    print(f"Writing {len(pairs)} pairs of {dataset.name} {FLAGS.split} as the folder layout", flush=True)
    return write_folder(pairs, spec, FLAGS.output, output_split, map_label)


if __name__ == "__main__":
    app.run(main)
