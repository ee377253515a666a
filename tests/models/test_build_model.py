"""`build_model`: the registry, its errors for bad arguments, and encoder weights."""

import keras
import keras.src.utils.file_utils
import numpy as np
import pytest

import fcnseg
from fcnseg.models import MODELS, model_options
from fcnseg.models.backbones import ENCODERS, build_encoder
from model_cases import NUM_CLASSES

ALL_MODELS = [
    "fcn32s_vgg16",
    "fcn16s_vgg16",
    "fcn8s_vgg16",
    "fcn8s_resnet50",
    "unet",
    "deeplabv3plus_mobilenetv2",
    "deeplabv3plus_resnet50",
    "lraspp_mobilenetv3_large",
    "lraspp_mobilenetv3_small",
    "bisenetv2",
    "ddrnet23_slim",
]


def test_list_models_names_the_whole_zoo():
    assert fcnseg.list_models() == ALL_MODELS
    assert list(MODELS) == ALL_MODELS


def test_version_is_a_string():
    assert isinstance(fcnseg.__version__, str) and fcnseg.__version__.count(".") == 2


def test_unknown_model_lists_the_valid_names():
    with pytest.raises(ValueError, match="Unknown model 'fcn4s'; valid models: fcn32s_vgg16, .*ddrnet23_slim"):
        fcnseg.build_model("fcn4s", NUM_CLASSES)


@pytest.mark.parametrize("num_classes", [1, 0, -3, 2.5, True, "21"])
def test_bad_num_classes(num_classes):
    with pytest.raises(ValueError, match=f"num_classes={num_classes!r} is not valid; expected an integer of at least 2"):
        fcnseg.build_model("unet", num_classes)


def test_unknown_option_lists_the_valid_options():
    with pytest.raises(ValueError, match="Unknown option.* dpth for model 'unet'; valid options: encoder, depth, base_filters"):
        fcnseg.build_model("unet", NUM_CLASSES, dpth=3)
    with pytest.raises(ValueError, match="valid options: none"):
        fcnseg.build_model("ddrnet23_slim", NUM_CLASSES, dropout=0.1)


def test_model_options():
    assert model_options("deeplabv3plus_resnet50") == ["output_stride"]
    assert model_options("fcn8s_vgg16") == ["dropout", "width_multiplier"]
    assert model_options("fcn8s_resnet50") == ["width_multiplier"]


@pytest.mark.parametrize(
    "name, options, message",
    [
        ("unet", {"depth": 0}, "depth=0 is not valid for unet; expected an integer from 1 to 7"),
        ("unet", {"base_filters": 0}, "base_filters=0 is not valid for unet"),
        ("unet", {"encoder": "vgg19"}, "encoder='vgg19' is not valid for unet; expected None or one of"),
        ("unet", {"encoder": "vgg16", "depth": 4}, "depth=4 is not valid for unet with encoder='vgg16'"),
        ("deeplabv3plus_resnet50", {"output_stride": 32}, "output_stride=32 is not valid .* expected 8 or 16"),
        ("fcn8s_vgg16", {"dropout": 1.0}, "dropout=1.0 is not valid for fcn8s_vgg16"),
        ("fcn8s_vgg16", {"width_multiplier": 0}, r"width_multiplier=0 is not valid for fcn8s_vgg16; .* \(0, 1\]"),
        ("fcn8s_resnet50", {"width_multiplier": 1.5}, "width_multiplier=1.5 is not valid for fcn8s_resnet50"),
        ("lraspp_mobilenetv3_large", {"output_stride": 4}, "output_stride=4 is not valid .* expected 8, 16 or 32"),
        ("lraspp_mobilenetv3_small", {"minimalistic": "yes"}, "minimalistic='yes' is not valid .* True or False"),
        ("bisenetv2", {"head_channels": 0}, "head_channels=0 is not valid for bisenetv2"),
        ("unet", {"auxiliary_heads": True}, "Model 'unet' has no auxiliary heads"),
    ],
)
def test_bad_option_values(name, options, message):
    with pytest.raises(ValueError, match=message):
        fcnseg.build_model(name, NUM_CLASSES, **options)


@pytest.mark.parametrize("name", ["fcn8s_vgg16", "fcn8s_resnet50"])
def test_narrowed_fcn_has_no_pretrained_weights(name):
    with pytest.raises(ValueError, match=f"width_multiplier=0.5 is not valid with encoder_weights='imagenet' for {name}"):
        fcnseg.build_model(name, NUM_CLASSES, encoder_weights="imagenet", width_multiplier=0.5)


@pytest.mark.parametrize("name", ["fcn8s_vgg16", "fcn8s_resnet50"])
def test_width_multiplier_scales_every_convolution(name):
    def convolutions(model):
        found = {}
        for layer in [*model.layers, *model.get_layer("encoder").layers]:
            if isinstance(layer, keras.layers.Conv2D) and not layer.name.startswith("score"):
                found[layer.name] = layer.filters
        return found

    full = convolutions(fcnseg.build_model(name, NUM_CLASSES))
    narrow_model = fcnseg.build_model(name, NUM_CLASSES, (64, 64, 3), width_multiplier=0.25)
    assert convolutions(narrow_model) == {layer: round(filters / 4) for layer, filters in full.items()}
    assert narrow_model.output_shape == (None, 64, 64, NUM_CLASSES)
    assert np.isfinite(narrow_model.predict(np.zeros((1, 64, 64, 3)), verbose=0)).all()


def test_only_vgg16_and_resnet50_encoders_are_narrowed():
    with pytest.raises(ValueError, match="width_multiplier is for the vgg16 and resnet50 encoders, not mobilenetv2"):
        build_encoder("mobilenetv2", None, [ENCODERS["mobilenetv2"].features[32]], width_multiplier=0.5)


@pytest.mark.parametrize("input_shape", [(64, 64), (64, 64, 1), (0, 64, 3), (64.0, 64, 3)])
def test_bad_input_shape(input_shape):
    with pytest.raises(ValueError, match=r"input_shape=.* is not valid; expected \(height, width, 3\)"):
        fcnseg.build_model("unet", NUM_CLASSES, input_shape=input_shape)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_fixed_size_not_divisible_fails_at_build_time(name):
    with pytest.raises(ValueError, match=r"Input height 100 \(input_shape=\(100, 64, 3\)\) is not divisible by"):
        fcnseg.build_model(name, NUM_CLASSES, input_shape=(100, 64, 3))


def test_encoder_weights_must_be_none_imagenet_or_a_file(tmp_path):
    with pytest.raises(ValueError, match="encoder_weights=3 is not valid; expected None, 'imagenet' or a path"):
        fcnseg.build_model("fcn8s_resnet50", NUM_CLASSES, encoder_weights=3)
    missing = tmp_path / "resnet50.h5"
    with pytest.raises(FileNotFoundError, match=f"encoder_weights file '{missing}' does not exist"):
        fcnseg.build_model("fcn8s_resnet50", NUM_CLASSES, encoder_weights=str(missing))


def test_unet_without_encoder_has_no_weights_to_load():
    with pytest.raises(ValueError, match="unet without an encoder has no pretrained weights"):
        fcnseg.build_model("unet", NUM_CLASSES, encoder_weights="imagenet")


@pytest.mark.parametrize("name", ["bisenetv2", "ddrnet23_slim"])
def test_models_trained_from_scratch_have_no_weights_to_load(name):
    with pytest.raises(ValueError, match=f"{name} .*from scratch .*pass encoder_weights=None, not 'imagenet'"):
        fcnseg.build_model(name, NUM_CLASSES, encoder_weights="imagenet")


def test_auxiliary_heads_are_not_a_model_option():
    assert model_options("bisenetv2") == ["head_channels"]
    assert model_options("ddrnet23_slim") == []
    assert fcnseg.models.auxiliary_loss_weights("bisenetv2") == (1.0, 1.0, 1.0, 1.0)
    assert fcnseg.models.auxiliary_loss_weights("ddrnet23_slim") == (0.4,)
    assert fcnseg.models.auxiliary_loss_weights("unet") == ()


@pytest.mark.parametrize(
    "name, options, application",
    [
        ("fcn8s_vgg16", {}, "VGG16"),
        ("fcn8s_resnet50", {}, "ResNet50"),
        ("deeplabv3plus_mobilenetv2", {}, "MobileNetV2"),
        ("unet", {"encoder": "resnet50"}, "ResNet50"),
        ("lraspp_mobilenetv3_large", {}, "MobileNetV3Large"),
        ("lraspp_mobilenetv3_small", {"minimalistic": True}, "MobileNetV3Small"),
    ],
)
def test_imagenet_weights_offline_say_to_pass_a_local_file(name, options, application, monkeypatch):
    def offline(fname, origin, **kwargs):
        raise Exception(f"URL fetch failure on {origin}: None -- [Errno -2] Name or service not known")

    monkeypatch.setattr(keras.src.utils.file_utils, "get_file", offline)
    with pytest.raises(RuntimeError, match=f"ImageNet weights of {application} .*pass encoder_weights='/path/to/"):
        fcnseg.build_model(name, NUM_CLASSES, encoder_weights="imagenet", **options)


def _saved_application_weights(tmp_path, application, **kwargs):
    keras.utils.set_random_seed(7)
    source = application(weights=None, input_shape=kwargs.pop("input_shape", (None, None, 3)), **kwargs)
    path = tmp_path / f"{source.name}.weights.h5"
    source.save_weights(path)
    return source, str(path)


@pytest.mark.parametrize("output_stride", [16, 8])
def test_encoder_weights_from_a_local_file(tmp_path, output_stride):
    source, path = _saved_application_weights(tmp_path, keras.applications.MobileNetV2, include_top=False)
    model = fcnseg.build_model(
        "deeplabv3plus_mobilenetv2", NUM_CLASSES, encoder_weights=path, output_stride=output_stride
    )
    encoder = model.get_layer("encoder")
    for layer_name in ["Conv1", "block_6_depthwise", "block_16_project"]:
        for got, expected in zip(encoder.get_layer(layer_name).get_weights(), source.get_layer(layer_name).get_weights()):
            np.testing.assert_array_equal(got, expected)


@pytest.mark.slow
def test_fcn_vgg16_turns_the_classifier_into_fc6_and_fc7(tmp_path):
    source, path = _saved_application_weights(tmp_path, keras.applications.VGG16, input_shape=(224, 224, 3))
    model = fcnseg.build_model("fcn32s_vgg16", NUM_CLASSES, encoder_weights=path)
    for layer_name in ["block1_conv1", "block5_conv3"]:
        for got, expected in zip(
            model.get_layer("encoder").get_layer(layer_name).get_weights(), source.get_layer(layer_name).get_weights()
        ):
            np.testing.assert_array_equal(got, expected)
    # fc1 applied to a flattened 7x7x512 window equals fc6 convolved over that window.
    window = np.random.default_rng(0).normal(size=(1, 7, 7, 512)).astype("float32")
    dense = source.get_layer("fc1")(window.reshape(1, -1)).numpy()
    convolved = keras.layers.Conv2D(4096, 7, activation="relu")
    convolved.build(window.shape)
    convolved.set_weights(model.get_layer("fc6").get_weights())
    np.testing.assert_allclose(convolved(window).numpy().reshape(1, -1), dense, rtol=1e-4, atol=1e-4)
    kernel, bias = source.get_layer("fc2").get_weights()
    np.testing.assert_array_equal(model.get_layer("fc7").get_weights()[0].reshape(kernel.shape), kernel)


def test_weights_file_that_does_not_fit_names_the_file_in_one_line(tmp_path):
    _, path = _saved_application_weights(tmp_path, keras.applications.MobileNetV2, include_top=False)
    with pytest.raises(ValueError, match=f"Could not load encoder_weights file '{path}' into ResNet50") as error:
        fcnseg.build_model("fcn8s_resnet50", NUM_CLASSES, encoder_weights=path)
    assert "\n" not in str(error.value)


def test_corrupt_weights_file_names_the_file(tmp_path):
    path = tmp_path / "resnet50_notop.h5"
    path.write_bytes(b"not an HDF5 file")
    with pytest.raises(ValueError, match=f"Could not load encoder_weights file '{path}' into ResNet50"):
        fcnseg.build_model("deeplabv3plus_resnet50", NUM_CLASSES, encoder_weights=str(path))
