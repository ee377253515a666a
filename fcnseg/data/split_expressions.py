"""Split expressions as TFDS writes them, for every reader: `train[:90%]`, `train[-300:]`, `train+val`.

The parsing and the rounding at percent boundaries are TFDS's own (`tfds.core.ReadInstruction`,
rounding to the closest example), so `--split` means the same for a folder of files as for
`tfds:<name>`. A slice follows the reader's order: file order, numeric for numbered files
(`list_images`), and written order for TFRecord shards.
"""

import re
from typing import NamedTuple

from tensorflow_datasets.core import ReadInstruction

from fcnseg.data.source import Source

_PLAIN = re.compile(r"\w+")
EXAMPLES = "e.g. train, train[:90%], train[-300:], train[10:20]+val"


class _SplitSize(NamedTuple):
    """What TFDS reads of a split to make its slices absolute."""

    num_examples: int


def is_plain(expression):
    """Whether `expression` names one whole split (no slice, no '+')."""
    return bool(_PLAIN.fullmatch(expression))


def check(expression, flag="--split"):
    """Raises ValueError naming `flag` if `expression` is not a valid split expression."""
    _instruction(expression, f"{flag}={expression!r}")


def open_expression(expression, open_split):
    """The examples `expression` names, as one `Source` whose `parts` say where they came from.

    Args:
        expression: str. A split expression, e.g. "train[:90%]+val".
        open_split: callable. A split's name -> its whole `Source`.
    """
    whole = {name: open_split(name) for name in split_names(expression)}
    sizes = {name: _size(source) for name, source in whole.items()}
    parts = [
        (f"{name}[{start}:{stop}]", _sliced(whole[name], start, stop, sizes[name]))
        for name, start, stop in absolute_parts(expression, sizes)
    ]
    if not any(part.size for _, part in parts):
        raise ValueError(f"split expression {expression!r} holds no examples (sizes: {_sizes_text(sizes)}).")
    return _concatenated(parts)


def split_names(expression):
    """The names of the splits `expression` reads, each once, in order."""
    _instruction(expression, f"split expression {expression!r}")
    return list(dict.fromkeys(part.split("[")[0].strip() for part in expression.split("+")))


def absolute_parts(expression, sizes):
    """The parts of `expression` as (split name, start, stop), given each split's size (a dict)."""
    instruction = _instruction(expression, f"split expression {expression!r}")
    try:
        absolute = instruction.to_absolute({name: _SplitSize(size) for name, size in sizes.items()})
    except AttributeError:  # TFDS looks for the shard lengths that only its own datasets have
        raise ValueError(f"split expression {expression!r}: slices by shard are for tfds: datasets only.") from None
    return [
        (part.splitname, part.from_ or 0, max(part.from_ or 0, sizes[part.splitname] if part.to is None else part.to))
        for part in absolute
    ]


def describe(source, expression):
    """One line: how many examples `expression` holds, part by part."""
    if len(source.parts) <= 1 and is_plain(expression):
        return f"{expression}: {source.size if source.size is not None else 'unknown number of'} examples"
    parts = " + ".join(f"{name} ({size})" for name, size in source.parts)
    return f"{expression}: {source.size} examples = {parts}"


def _instruction(expression, named):
    try:
        return ReadInstruction.from_spec(expression)
    except (ValueError, AssertionError, AttributeError, TypeError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ValueError(f"{named} is not a valid split expression ({reason}); {EXAMPLES}.") from None


def _size(source):
    if source.size is not None:
        return source.size
    if source.count is not None:
        return source.count()
    return int(source.load().reduce(0, lambda count, _: count + 1))


def _sliced(source, start, stop, size):
    if (start, stop) == (0, size):
        return source
    if source.cheap_elements and not source.files_sharded:
        return Source(source.spec, source.elements.skip(start).take(stop - start), source.read, stop - start)
    return _examples(source.load().skip(start).take(stop - start), source.spec, stop - start)


def _concatenated(parts):
    """One `Source` over the parts in order; the parts share their reader's `read`."""
    sources = [source for _, source in parts]
    first = sources[0]
    same_form = all((s.cheap_elements, s.files_sharded) == (first.cheap_elements, first.files_sharded) for s in sources)
    if not same_form:
        sources = [
            s if not s.cheap_elements and not s.files_sharded else _examples(s.load(), s.spec, s.size) for s in sources
        ]
        first = sources[0]
    elements = first.elements
    for source in sources[1:]:
        elements = elements.concatenate(source.elements)
    size = sum(source.size for source in sources)
    counts = tuple((name, source.size) for (name, _), source in zip(parts, sources))
    return Source(first.spec, elements, first.read, size, first.files_sharded, first.cheap_elements, parts=counts)


def _examples(examples, spec, size):
    return Source(spec, examples, lambda dataset: dataset, size, cheap_elements=False)


def _sizes_text(sizes):
    return ", ".join(f"{name} {size}" for name, size in sizes.items())
