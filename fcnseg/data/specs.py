"""What a dataset's labels mean: class names, drawing colours and the ignore label."""

import dataclasses
import json
from typing import Optional

IGNORE_LABEL = 255
# The name of a class list (`DatasetSpec.to_json`) beside a folder dataset, a trained model or an export.
CLASSES_FILE = "classes.json"


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """The classes of a dataset as the models see them, after its label mapping.

    Args:
        name: str. The dataset's name.
        class_names: tuple of str. Class `i` is `class_names[i]`.
        colors: tuple of (r, g, b). The colour to draw each class with.
        ignore_label: int. The label of pixels that no loss or metric counts. 255.
        frame_size: (height, width) or None. The size every frame of the dataset was
            resampled to from its camera's frame (the Cityscapes pairs: 256x256, squeezed
            from 2:1), which a model trained on it should see frames at; None where the
            frames are as the camera took them. Training writes it into the run's
            `classes.json`, so inference and export resize to it by default.
    """

    name: str
    class_names: tuple
    colors: tuple
    ignore_label: int = IGNORE_LABEL
    frame_size: Optional[tuple] = None

    def __post_init__(self):
        object.__setattr__(self, "class_names", tuple(self.class_names))
        object.__setattr__(self, "colors", tuple(tuple(int(c) for c in color) for color in self.colors))
        if len(self.class_names) < 2:
            raise ValueError(f"Dataset {self.name!r} needs at least 2 classes, got {list(self.class_names)}.")
        if len(self.colors) != len(self.class_names):
            raise ValueError(
                f"Dataset {self.name!r} has {len(self.class_names)} class names but {len(self.colors)} colours."
            )
        if not all(len(color) == 3 and all(0 <= c <= 255 for c in color) for color in self.colors):
            raise ValueError(f"Dataset {self.name!r} colours must be (r, g, b) triples in 0..255: {self.colors}.")
        if self.frame_size is not None:
            size = tuple(self.frame_size)
            if len(size) != 2 or not all(
                isinstance(side, int) and not isinstance(side, bool) and side > 0 for side in size
            ):
                raise ValueError(f"Dataset {self.name!r} frame_size must be [height, width], got {self.frame_size}.")
            object.__setattr__(self, "frame_size", size)

    @property
    def num_classes(self):
        return len(self.class_names)

    def to_json(self):
        fields = {"name": self.name, "classes": list(self.class_names), "colors": [list(c) for c in self.colors]}
        if self.frame_size is not None:
            fields["frame_size"] = list(self.frame_size)
        return json.dumps(fields, indent=2)

    @classmethod
    def from_json_file(cls, path):
        """Reads a spec from a JSON file `{"name": ..., "classes": [...], "colors": [[r, g, b], ...]}`, with
        `"frame_size": [height, width]` where the frames were resampled."""
        try:
            with open(path) as file:
                fields = json.load(file)
            frame_size = fields.get("frame_size")
            return cls(
                fields.get("name", str(path)),
                fields["classes"],
                fields["colors"],
                frame_size=None if frame_size is None else tuple(frame_size),
            )
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: class list not found; expected a JSON file with 'classes' and 'colors'.")
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ValueError(
                f"{path}: not a valid class list ({error}); expected JSON with 'classes' (names) and "
                "'colors' ([r, g, b] per class)."
            ) from None
