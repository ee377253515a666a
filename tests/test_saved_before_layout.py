"""A `.keras` file saved before the package's layout change loads: Keras finds the custom objects
by their registered names ("fcnseg>..."), not by the module paths the file also records."""

import pathlib
import zipfile

import keras
import numpy as np

import fcnseg
from fcnseg.metrics import PixelAccuracy
from fcnseg.training.losses import SegmentationLoss
from fcnseg.training.optimizers import LinearWarmup

# Written by main at 41917e2: ImageNormalization, ResizeLike and a transposed convolution with
# BilinearUpsamplingKernel, compiled with SegmentationLoss (class weights, Dice), PixelAccuracy
# and SGD on a LinearWarmup schedule, trained one epoch; the .npz holds inputs and logits.
FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "saved_by_41917e2.keras"


def test_the_file_names_modules_that_moved():
    config = zipfile.ZipFile(FIXTURE).read("config.json").decode()
    assert '"module": "fcnseg.losses"' in config and '"module": "fcnseg.optimizers"' in config


def test_a_keras_file_saved_before_the_layout_change_loads_with_its_training_objects():
    model = keras.saving.load_model(FIXTURE)
    saved = np.load(FIXTURE.with_suffix(".npz"))
    np.testing.assert_allclose(model.predict(saved["images"], verbose=0), saved["logits"], rtol=1e-5, atol=1e-5)
    assert isinstance(model.loss, SegmentationLoss) and model.loss.class_weights == [1.0, 2.0, 0.5]
    assert model.loss.dice_weight == 0.1
    assert isinstance(model.optimizer._learning_rate, LinearWarmup)
    # Its own argmax as labels: the restored metrics score it perfectly.
    scores = model.evaluate(saved["images"], saved["logits"].argmax(-1)[..., None], verbose=0, return_dict=True)
    assert scores["pixel_accuracy"] == 1.0 and scores["mean_iou"] == 1.0
    assert any(isinstance(metric, PixelAccuracy) for metric in model.metrics[-1].metrics)


def test_it_opens_as_a_segmenter():
    segmenter = fcnseg.load_segmenter(FIXTURE)
    saved = np.load(FIXTURE.with_suffix(".npz"))
    probabilities = segmenter(saved["images"].astype(np.uint8))
    np.testing.assert_array_equal(probabilities.argmax(-1), saved["logits"].argmax(-1))
    assert segmenter.num_classes == 3 and segmenter.input_size is None and segmenter.spec is None
