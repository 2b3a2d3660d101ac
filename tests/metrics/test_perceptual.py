"""LPIPS backbones: a given one must load before any compute; without one, offline is found out once per process."""

from __future__ import annotations

import logging

import torch

import fedpriv.metrics.perceptual as perceptual
from fedpriv.config import config_problems
from fedpriv.metrics import LpipsScorer


def test_a_given_backbone_must_be_alexnet_features(tmp_path, compose_cfg, lpips_backbone):
    wrong = tmp_path / "resnet_stem.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, wrong)
    for path, says in ((wrong, "is not AlexNet's features: 0.weight missing"),
                       (tmp_path / "typo.pth", "does not exist"),
                       (tmp_path, "is a folder")):
        (problem,) = config_problems(compose_cfg(f"metrics.lpips.backbone={path}"))
        assert problem.startswith(f"metrics.lpips.backbone='{path}' {says}"), problem
    assert config_problems(compose_cfg(f"metrics.lpips.backbone={wrong}", "metrics.lpips.enabled=false")) == []
    assert config_problems(compose_cfg(f"metrics.lpips.backbone={lpips_backbone}")) == []


def test_offline_is_found_out_once_and_warned_once(tmp_path, monkeypatch, caplog):
    asked = []
    monkeypatch.setattr(perceptual, "online", lambda host: asked.append(host) or False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty torchvision cache
    perceptual._torchvision_backbone.cache_clear()
    try:
        with caplog.at_level(logging.WARNING):
            scorers = [LpipsScorer(download=True) for _ in range(3)]
    finally:
        perceptual._torchvision_backbone.cache_clear()
    assert asked == [perceptual.ALEXNET_HOST]
    assert not any(s.available for s in scorers)
    assert "offline" in scorers[0].reason and "metrics.lpips.backbone" in scorers[0].reason
    assert caplog.text.count("LPIPS is left empty") == 1
