from __future__ import annotations

import logging

import torch
from torchvision.io import read_image

from fedpriv.metrics import LpipsScorer, image_scores, psnr


def test_psnr_ssim_mse_on_known_pairs():
    torch.manual_seed(0)
    a = torch.rand(2, 3, 32, 32)
    scores = image_scores(a, a)
    assert torch.isinf(scores["psnr"]).all() and torch.allclose(scores["ssim"], torch.ones(2)) and (scores["mse"] == 0).all()
    b = (a + 0.1).clamp(0, 1)
    expected = 10 * torch.log10(1 / (b - a).pow(2).mean((1, 2, 3)))
    assert torch.allclose(psnr(b, a), expected, atol=1e-4)
    noisy = image_scores(torch.rand(2, 3, 32, 32), a)
    assert (noisy["ssim"] < 0.2).all() and (noisy["psnr"] < 10).all()


def test_lpips_matches_the_published_reference(lpips_backbone, lpips_reference):
    scorer = LpipsScorer(backbone=str(lpips_backbone))
    load = lambda name: read_image(str(lpips_reference / name)).float().div(255)[None, :3]
    ref = load("ex_ref.png")
    assert abs(scorer(load("ex_p0.png"), ref).item() - 0.722) < 2e-3
    assert abs(scorer(load("ex_p1.png"), ref).item() - 0.138) < 2e-3


def test_lpips_on_small_grey_images(lpips_backbone):
    scorer = LpipsScorer(backbone=str(lpips_backbone))
    a = torch.rand(3, 1, 16, 16)
    values = scorer(a, a)
    assert values.shape == (3,) and (values.abs() < 1e-6).all()


def test_missing_backbone_leaves_lpips_empty_with_one_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        scorer = LpipsScorer(backbone=str(tmp_path / "absent.pth"))
        again = LpipsScorer(backbone=str(tmp_path / "absent.pth"))
    assert not scorer.available and not again.available
    assert "metrics.lpips.backbone" in scorer.reason
    assert caplog.text.count("LPIPS is left empty") == 1
    assert scorer(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)) is None
