"""Shared fixtures: Hydra-composed configs, real data from ../shared when present, a per-session model cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

import fedpriv.config.schema  # noqa: F401  (registers the schema Hydra composes against)

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"
SHARED = REPO.parent / "shared"
CIFAR10_JPEG = SHARED / "data" / "cifar10"
MNIST_TEST = SHARED / "data" / "mnist"
LPIPS_BACKBONE = SHARED / "weights" / "lpips_alexnet_features.pth"
LPIPS_REFERENCE = SHARED / "data" / "lpips_reference"

# Two threads suit the 2-core machines the suite is sized for; OMP_NUM_THREADS=1 keeps parallel runs from thrashing.
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", min(2, os.cpu_count() or 1))))


def compose_config(*overrides: str, cache_dir: Path | None = None):
    """Compose ``conf/config.yaml`` with ``overrides`` (no progress bars, no time estimate, LPIPS off unless
    asked)."""
    base = ["progress=false", "estimate=false", "metrics.lpips.download=false"]
    if cache_dir is not None:
        base.append(f"paths.cache_dir={cache_dir}")
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=[*base, *overrides])


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """One model cache for the whole session, so the default victim/evaluator train once across tests."""
    return tmp_path_factory.mktemp("fedpriv-cache")


@pytest.fixture
def compose_cfg(cache_dir):
    return lambda *overrides: compose_config(*overrides, cache_dir=cache_dir)


def _need(path: Path, what: str) -> Path:
    if not path.exists():
        pytest.skip(f"{what} not found at {path} (the real-data folder ../shared sits beside a development checkout)")
    return path


@pytest.fixture(scope="session")
def cifar10_root() -> Path:
    return _need(CIFAR10_JPEG / "test", "CIFAR-10 JPEG ImageFolder").parent


@pytest.fixture(scope="session")
def mnist_test_dir() -> Path:
    return _need(MNIST_TEST / "t10k-images-idx3-ubyte.gz", "the MNIST test set").parent


@pytest.fixture(scope="session")
def lpips_backbone() -> Path:
    return _need(LPIPS_BACKBONE, "the LPIPS AlexNet backbone")


@pytest.fixture(scope="session")
def lpips_reference() -> Path:
    return _need(LPIPS_REFERENCE / "ex_ref.png", "the LPIPS reference images").parent


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)
