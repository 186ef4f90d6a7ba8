import numpy as np

from thaiocr.augment import LineAugment
from thaiocr.config import build_config


def _line(width: int = 80) -> np.ndarray:
    image = np.full((32, width, 3), 230, dtype=np.uint8)
    image[10:22, 10 : width - 10] = 20  # a dark bar standing in for text
    return image


def test_same_epoch_and_index_give_the_same_pixels():
    augment = LineAugment(seed=1, max_width=128)
    assert np.array_equal(augment(_line(), 7), augment(_line(), 7))


def test_epochs_and_samples_vary():
    first = LineAugment(seed=1, max_width=128)
    later = LineAugment(seed=1, max_width=128, epoch=1)
    outputs = {first(_line(), i).tobytes() for i in range(8)} | {later(_line(), i).tobytes() for i in range(8)}
    assert len(outputs) > 8


def test_height_is_kept_and_width_stays_within_the_model_limit():
    augment = LineAugment(seed=0, max_width=100)
    for index in range(30):
        out = augment(_line(96), index)
        assert out.shape[0] == 32 and out.shape[2] == 3 and out.dtype == np.uint8
        assert 4 <= out.shape[1] <= 100


def test_recipes_may_ask_for_rec_aug_in_training():
    transforms = [{"DecodeImage": {"img_mode": "BGR"}}, {"RecAug": None},
                  {"RecResizeImg": {"image_shape": [3, 32, 96]}}]
    config = build_config({"Train": {"dataset": {"transforms": transforms}}})
    assert config.has_transform("Train", "RecAug")
    assert not config.has_transform("Eval", "RecAug")
    assert config.preprocess.max_width == 96
