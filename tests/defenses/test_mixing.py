"""Mixup and InstaHide on real CIFAR-10 images: capped convex weights, labels mixed alike, encodings built from the
client's own images, fresh every call, reproducible sign flips, and the largest-weight component for scoring."""

from __future__ import annotations

import pytest
import torch

from fedpriv.config import ConfigError
from fedpriv.defenses import InstaHide, Mixup
from fedpriv.defenses.client import ClientBatch, ClientContext
from fedpriv.defenses.mixing import largest_component, scoring_references
from fedpriv.metrics.image import psnr


@pytest.fixture(scope="module")
def cifar(cifar10_root):
    from fedpriv.data import CIFAR10

    test = CIFAR10(root=str(cifar10_root), train_per_class=1, test_per_class=2).load().test
    return test.images.float() / 255, test.labels.long()


def context(seed=0, other=None, epoch=0):
    return ClientContext(generator=torch.Generator().manual_seed(seed), num_classes=10, other_data=other, epoch=epoch)


@pytest.mark.parametrize("k", [4, 6])
def test_mixup_weights_are_capped_convex_and_mix_images_and_labels_alike(cifar, k):
    images, labels = cifar
    out = Mixup(k=k).defend_batch(ClientBatch(images, labels.clone(), labels.clone()), context())
    weights, index = out.info["mix_weight"], out.info["mix_index"]
    assert weights.shape == (len(images), k)
    assert weights.max() <= 0.65 and weights.min() >= 0
    torch.testing.assert_close(weights.sum(1), torch.ones(len(images)))
    # column 0 is the image itself, the partners are k - 1 distinct other images of the batch
    assert torch.equal(index[:, 0], torch.arange(len(images)))
    assert all(len(set(row.tolist())) == k for row in index)
    torch.testing.assert_close(out.images, torch.einsum("nk,nkchw->nchw", weights, images[index]))
    expected = torch.zeros(len(images), 10).scatter_add_(1, labels[index], weights)
    torch.testing.assert_close(out.targets, expected)
    # a real mixture: every encoding is far from its own image (CIFAR images differ a lot)
    assert psnr(out.images, images).mean() < 25


def test_single_image_batch_is_mixed_with_the_clients_other_data(cifar):
    images, labels = cifar
    drawn = []

    def other_data(n, generator):
        pick = torch.randperm(len(images) - 1, generator=generator)[:n] + 1
        drawn.append(pick)
        return images[pick], labels[pick]

    out = Mixup(k=4).defend_batch(ClientBatch(images[:1], labels[:1].clone(), labels[:1].clone()),
                                  context(other=other_data))
    assert len(drawn) == 1 and len(drawn[0]) == 3
    pool = torch.cat([images[:1], images[drawn[0]]])
    torch.testing.assert_close(out.info["mix_images"][0], pool[out.info["mix_index"][0]])
    assert sorted(out.info["mix_index"][0].tolist()) == [0, 1, 2, 3]


def test_fresh_encodings_at_every_call_but_reproducible_from_the_seed(cifar):
    images, labels = cifar
    batch = ClientBatch(images, labels.clone(), labels.clone())
    defense = Mixup(k=4)
    ctx = context(seed=3)
    first, second = defense.defend_batch(batch, ctx), defense.defend_batch(batch, ctx)  # the generator advances
    assert not torch.equal(first.info["mix_weight"], second.info["mix_weight"])
    again = defense.defend_batch(batch, context(seed=3))
    assert torch.equal(first.images, again.images)


def test_instahide_flips_pixel_signs_reproducibly(cifar):
    images, labels = cifar
    batch = ClientBatch(images, labels.clone(), labels.clone())
    out = InstaHide(k=4).defend_batch(batch, context(seed=1))
    same = InstaHide(k=4).defend_batch(batch, context(seed=1))
    other = InstaHide(k=4).defend_batch(batch, context(seed=2))
    assert torch.equal(out.images, same.images) and torch.equal(out.info["sign"], same.info["sign"])
    assert not torch.equal(out.info["sign"], other.info["sign"])
    mixture = torch.einsum("nk,nkchw->nchw", out.info["mix_weight"], out.info["mix_images"])
    sign = out.info["sign"]
    assert 0.45 < (sign < 0).float().mean() < 0.55
    # a flip of the zero-centred mixture 2m - 1 is 1 - m in pixel space; unflipped pixels keep the mixture
    torch.testing.assert_close(out.images[sign > 0], mixture[sign > 0])
    torch.testing.assert_close(out.images[sign < 0], 1 - mixture[sign < 0])
    torch.testing.assert_close((2 * out.images - 1).abs(), (2 * mixture - 1).abs())
    # the flips destroy what Mixup leaves visible
    assert psnr(out.images, largest_component(out.info)).mean() < psnr(mixture, largest_component(out.info)).mean() - 3


def test_scoring_references_are_the_largest_weight_components(cifar):
    images, labels = cifar
    out = Mixup(k=4).defend_batch(ClientBatch(images, labels.clone(), labels.clone()), context())
    references = scoring_references(out.images, out.info)
    top = out.info["mix_weight"].argmax(1)
    assert torch.equal(references, images[out.info["mix_index"][torch.arange(len(top)), top]])
    assert torch.equal(out.labels, labels[out.info["mix_index"][torch.arange(len(top)), top]])
    # the encoding is closer to its largest component than to any other component
    for j in range(1, 4):
        other = out.info["mix_images"][torch.arange(len(top)), (top + j) % 4]
        assert psnr(out.images, references).mean() > psnr(out.images, other).mean()


def test_a_cap_below_one_over_k_is_a_config_error():
    with pytest.raises(ConfigError, match="max_weight"):
        Mixup(k=4, max_weight=0.2)
