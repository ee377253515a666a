"""What a dataset's labels mean: class names, drawing colours and the ignore label."""

import dataclasses
import json

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
    """

    name: str
    class_names: tuple
    colors: tuple
    ignore_label: int = IGNORE_LABEL

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

    @property
    def num_classes(self):
        return len(self.class_names)

    def to_json(self):
        return json.dumps(
            {"name": self.name, "classes": list(self.class_names), "colors": [list(c) for c in self.colors]}, indent=2
        )

    @classmethod
    def from_json_file(cls, path):
        """Reads a spec from a JSON file `{"name": ..., "classes": [...], "colors": [[r, g, b], ...]}`."""
        try:
            with open(path) as file:
                fields = json.load(file)
            return cls(fields.get("name", str(path)), fields["classes"], fields["colors"])
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: class list not found; expected a JSON file with 'classes' and 'colors'.")
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ValueError(
                f"{path}: not a valid class list ({error}); expected JSON with 'classes' (names) and "
                "'colors' ([r, g, b] per class)."
            ) from None
