"""Does the numbering of the Cityscapes pairs follow Cityscapes' city order? (The held-out block.)

    python bench/pairs_order.py --data_dir=../shared/data/cityscapes_pairs

Each photo (the left half of `train/<n>.jpg`) becomes a 16x16 colour thumbnail; the table gives
the cosine similarity of the centred thumbnails of frames n and n+1 at each boundary that
Cityscapes' alphabetical city order and its per-city train counts predict, and the boundary's
rank among all 2,974 neighbours, lowest first. Low ranks say a change of city there.
"""

import itertools

import numpy as np
from absl import app, flags
from PIL import Image

flags.DEFINE_string("data_dir", "../shared/data/cityscapes_pairs", "The Cityscapes pairs (train/1.jpg ...).")
FLAGS = flags.FLAGS

# Cityscapes' train cities in its folder order, with their numbers of fine-labelled frames.
CITIES = (
    ("aachen", 174), ("bochum", 96), ("bremen", 316), ("cologne", 154), ("darmstadt", 85), ("dusseldorf", 221),
    ("erfurt", 109), ("hamburg", 248), ("hanover", 196), ("jena", 119), ("krefeld", 99), ("monchengladbach", 94),
    ("strasbourg", 365), ("stuttgart", 196), ("tubingen", 144), ("ulm", 95), ("weimar", 142), ("zurich", 122),
)  # fmt: skip


def thumbnail(path):
    photo = np.asarray(Image.open(path).convert("RGB"), np.float32)[:, :256]
    small = photo.reshape(16, 16, 16, 16, 3).mean(axis=(1, 3)).ravel()
    small -= small.mean()
    return small / np.linalg.norm(small)


def main(argv):
    del argv
    count = sum(n for _, n in CITIES)
    thumbnails = np.stack([thumbnail(f"{FLAGS.data_dir}/train/{n}.jpg") for n in range(1, count + 1)])
    similarity = (thumbnails[1:] * thumbnails[:-1]).sum(1)  # [k]: frames k+1 and k+2
    print(f"Median similarity of neighbours: {np.median(similarity):.2f}\n")
    print("| boundary | last frame of the first city | similarity | rank (of 2,974, lowest first) |")
    print("| --- | ---: | ---: | ---: |")
    ends = list(itertools.accumulate(n for _, n in CITIES))[:-1]
    for (first, _), (second, _), end in zip(CITIES, CITIES[1:], ends):
        value = similarity[end - 1]
        print(f"| {first}/{second} | {end} | {value:.2f} | {int((similarity < value).sum()) + 1} |")


if __name__ == "__main__":
    app.run(main)
