"""The trial's picture: rows named, each reconstruction captioned with its PSNR, both PSNRs where they diverge."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from fedpriv.record.grid import psnr_caption, reconstruction_captions, save_reconstruction_grid


def test_caption_shows_psnr_against_the_defended_input_only_where_it_diverges():
    assert psnr_caption(2.5, 40.6) == "2.5 dB (40.6 vs defended)"
    assert psnr_caption(25.04, 26.0) == "25.0 dB"
    assert psnr_caption(25.0, 14.9) == "25.0 dB (14.9 vs defended)"
    assert psnr_caption(25.0, None) == "25.0 dB"


def test_captions_are_computed_per_reconstruction():
    generator = torch.Generator().manual_seed(0)
    original = torch.rand(2, 1, 8, 8, generator=generator)
    defended = 1 - original       # an inverted image: far from the original, pixel by pixel
    noise = 0.01 * torch.randn(2, 1, 8, 8, generator=generator)
    reconstruction = torch.stack([(defended[0] + noise[0]).clamp(0, 1), (original[1] + noise[1]).clamp(0, 1)])
    first, second = reconstruction_captions(original, defended, reconstruction)
    low, _, defended_db = first.replace("(", "").split()[:3]
    assert float(low) < 10 and float(defended_db) > 35 and first.endswith("vs defended)")
    assert float(second.split()[0]) > 35 and "defended" in second     # recovered the original this time


def test_grid_png_has_room_for_labels_and_captions(tmp_path):
    generator = torch.Generator().manual_seed(1)
    images = {k: torch.rand(12, 1, 8, 8, generator=generator) for k in ("original", "defended", "reconstruction")}
    save_reconstruction_grid(tmp_path / "reconstructions.png", images, limit=10)
    picture = np.asarray(Image.open(tmp_path / "reconstructions.png").convert("L"), dtype=np.float32)
    # 10 columns of 8x8 digits shown at 64 px with 2 px gaps (662 x 200), plus 100 px of row labels on the left
    # and 50 px of captions below.
    assert picture.shape == (250, 762)
    labels, captions = picture[4:204, :100], picture[204:, 100:]
    assert (labels < 128).sum() > 200 and (captions < 128).sum() > 400       # text drawn in both margins
