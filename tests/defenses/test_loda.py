"""LODA: obscured images far from their originals in pixels but close in the extractor's features, the adaptive
inverse, the encoding cache, and config errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fedpriv.attacks.decode_stage import decode_problems
from fedpriv.attacks.loda_inverse import loda_inverse
from fedpriv.config.validate import ConfigError
from fedpriv.defenses.loda import Loda
from fedpriv.defenses.loda_encode import EncodingStore, feature_distance, obscure
from fedpriv.metrics import image_scores


def test_disjoint_public_data_needs_a_private_subset():
    with pytest.raises(ConfigError, match="defense.public.source=disjoint_train.*train_per_class"):
        Loda(public={"source": "disjoint_train", "root": "x", "per_class": 10, "exclude_per_class": None})


def test_loda_inverse_only_undoes_loda():
    problems = decode_problems({"attack": {"decode": "loda_inverse"},
                                "defense": {"_target_": "fedpriv.defenses.Mixup", "k": 4}})
    assert problems and "allowed: attack.decode=none, or defense=loda" in problems[0]


def test_second_encode_comes_from_the_disk_cache(tmp_path):
    conv = nn.Conv2d(3, 4, 3, padding=1)
    g = lambda x: [conv(x)]  # noqa: E731
    images = torch.rand(3, 3, 8, 8)
    encode = lambda x, keys: obscure(g, x, torch.rand_like(x), c=1.0, tau=0.1, steps=3)  # noqa: E731
    first = EncodingStore(tmp_path, {"setting": 1}, encode)
    a = first(images)
    second = EncodingStore(tmp_path, {"setting": 1}, lambda x, keys: pytest.fail("encoded again"))
    assert torch.equal(second(images), a) and first.encoded == 3 and second.encoded == 0
    other = EncodingStore(tmp_path, {"setting": 2}, encode)
    other(images[:1])
    assert other.encoded == 1  # another setting never reads these encodings


@pytest.mark.slow
def test_obscured_cifar_images_keep_features_and_inverse_recovers_some(cifar10_root, tmp_path):
    """Real CIFAR-10 test images, obscured with LODA1 by a ConvNet trained on disjoint CIFAR-10 training images."""
    from fedpriv.data.imagefolder import read_imagefolder

    public = {"source": "disjoint_train", "root": str(cifar10_root), "per_class": 50, "seed": 0,
              "exclude_per_class": 100, "exclude_seed": 0}
    defense = Loda(c=20.0, layers="loda1", tau=0.4, steps=50, extractor_width=8, extractor_epochs=4,
                   public=public, cache_dir=str(tmp_path))
    _, test, _ = read_imagefolder(cifar10_root, 1, 1, 0)
    x = test.images.float() / 255  # one image per class
    obscured = defense.obscure_images(x)
    g = defense.features()
    psnr = image_scores(obscured, x)["psnr"]
    with torch.no_grad():
        kept = feature_distance(g, obscured, x).mean()
        unrelated = feature_distance(g, x, x.roll(1, 0)).mean()
    assert psnr.mean() < 10, psnr
    # The obscured image's features are about half as far from the original's as another image's are (0.46
    # measured, against about 8.7 dB PSNR; a 20%-accurate extractor trained on 450 images, so a loose bound).
    assert kept < 0.6 * unrelated, (kept, unrelated)

    # The adaptive attacker, handed the obscured images (a perfect gradient inversion), gets closer to the
    # originals than the obscured images are.
    decoded = loda_inverse(g, obscured, c=1.0, steps=100)
    assert image_scores(decoded, x)["psnr"].mean() > psnr.mean() + 0.5  # 8.7 -> 10.1 dB measured

    again = Loda(c=20.0, layers="loda1", tau=0.4, steps=50, extractor_width=8, extractor_epochs=4,
                 public=public, cache_dir=str(tmp_path))
    assert torch.equal(again.obscure_images(x), obscured) and again._store.encoded == 0
