"""Facts every part of the package shares: the size multiple of inputs, and how sizes are checked."""

# Every model of the zoo downsamples its input at most 32 times, so sides that are multiples
# of 32 work for all of them (`fcnseg.models` checks a model's own, possibly smaller, factor).
SIZE_MULTIPLE = 32


def check_size(name, size, multiple=1):
    """Returns `size` as a (height, width) tuple of ints, or fails naming the flag `--name`.

    Args:
        name: str. The flag or option the size comes from, for the error message.
        size: sequence of two positive ints, each a multiple of `multiple`.
        multiple: int. 1 for any size.
    """
    text = ",".join(str(side) for side in size)
    try:
        size = tuple(int(side) for side in size)
    except (TypeError, ValueError):
        size = ()
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"--{name}={text} is not valid; expected height,width, two positive integers.")
    if any(side % multiple for side in size):
        raise ValueError(f"--{name}={text} is not valid; every side must be a multiple of {multiple}.")
    return size
