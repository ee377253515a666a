"""The run's checkpoints and log: written whole or not at all."""

import keras
import numpy as np
import pytest

from fcnseg.training.callbacks import AtomicModelCheckpoint, EpochLog


def _model():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile("sgd", "mse")
    return model


def _fit(model, callbacks, epochs=1):
    data = np.ones((4, 4), np.float32), np.zeros((4, 2), np.float32)
    model.fit(*data, epochs=epochs, callbacks=callbacks, verbose=0)


def test_a_checkpoint_is_replaced_whole_and_a_failed_save_keeps_the_previous_one(tmp_path, monkeypatch):
    path = tmp_path / "last.keras"
    model = _model()
    _fit(model, [AtomicModelCheckpoint(str(path))])
    before = path.read_bytes()
    assert keras.saving.load_model(path).count_params() == model.count_params()

    def save_half_then_fail(filepath, overwrite=True):
        with open(filepath, "wb") as file:
            file.write(before[: len(before) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(model, "save", save_half_then_fail)
    with pytest.raises(OSError, match=f"{path}: could not be written \\(No space left on device\\)"):
        _fit(model, [AtomicModelCheckpoint(str(path))])
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.keras"]


def test_the_log_gets_one_whole_row_an_epoch(tmp_path):
    _fit(_model(), [EpochLog(str(tmp_path))], epochs=3)
    lines = (tmp_path / "log.csv").read_text().splitlines()
    assert lines[0] == "epoch,loss" and [line.split(",")[0] for line in lines[1:]] == ["0", "1", "2"]
    assert all(float(line.split(",")[1]) >= 0 for line in lines[1:])
