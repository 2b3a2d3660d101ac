"""Split learning (fl=split): gradient attacks are refused up front, and the generative decoder recovers real
MNIST digits from the activations, better from a shallow cut than from a deep one."""

from __future__ import annotations

import pytest
import torch

from fedpriv.config.combinations import combination_problems
from fedpriv.fl.split import SplitLearning
from fedpriv.models import LeNet5
from fedpriv.trial import run_trial
from tests.conftest import SHARED


def test_gradient_attacks_refuse_split_learning_before_anything_runs():
    # The cross-group checks validate() runs on every composed config before anything is built.
    fl = {"_target_": "fedpriv.fl.SplitLearning", "cut": "pool1"}
    problems = combination_problems({"fl": fl, "attack": {"_target_": "fedpriv.attacks.InvertingGradients"}})
    assert len(problems) == 1
    assert "attack=inverting_gradients" in problems[0] and "fl=split" in problems[0] and "attack=decoder" in problems[0]
    assert combination_problems({"fl": fl, "attack": {"_target_": "fedpriv.attacks.GenerativeDecoder"}}) == []
    wrong = combination_problems({"fl": {"_target_": "fedpriv.fl.FedSGD"},
                                  "attack": {"_target_": "fedpriv.attacks.GenerativeDecoder"}})
    assert len(wrong) == 1 and "attack=decoder" in wrong[0] and "fl=fedsgd" in wrong[0]


def test_cut_names_a_layer_and_the_client_sends_its_activations():
    model = LeNet5(in_shape=(1, 28, 28), num_classes=10, conv_width=4)
    x = torch.rand(3, 1, 28, 28)
    shallow, deep = SplitLearning(cut="pool1"), SplitLearning(cut="pool2")
    assert shallow.shared_update(model, x, torch.zeros(3)).gradients[0].shape == (3, 4, 14, 14)
    assert deep.shared_update(model, x, torch.zeros(3)).gradients[0].shape == (3, 4, 5, 5)
    problems = SplitLearning(cut="pool3").model_problems(model)
    assert len(problems) == 1 and "fl.cut='pool3'" in problems[0] and "pool1, conv2" in problems[0]


@pytest.fixture(scope="module")
def mnist_split_root():
    root = SHARED / "data" / "mnist_split"
    fashion = SHARED / "data" / "fashion_mnist"
    if not (root / "train-images-idx3-ubyte.gz").exists() or not (fashion / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST/Fashion-MNIST not found under {SHARED / 'data'} (the shared data folder sits beside "
                    "a development checkout)")
    return root, fashion


@pytest.mark.slow
def test_decoder_with_a_fashion_prior_reconstructs_mnist_better_from_pool1_than_pool2(compose_cfg, mnist_split_root,
                                                                                        tmp_path):
    root, fashion = mnist_split_root
    psnr, floor = {}, {}
    for cut in ("pool1", "pool2"):
        cfg = compose_cfg("dataset=mnist", f"dataset.root={root}", "dataset.train_per_class=50",
                          "dataset.test_per_class=10", "model=lenet5", "model.conv_width=8", "fl=split",
                          f"fl.cut={cut}", "fl.batch_size=4", "attack=decoder", "attack.prior=fashion_mnist",
                          f"attack.prior_root={fashion}", "attack.prior_images=2000", "attack.epochs=10",
                          "targets.per_class=2", "training.epochs=1", "evaluator.model.width=8",
                          "evaluator.training.epochs=1", "record.grid=false")
        rows = run_trial(cfg, output_dir=tmp_path / cut).rows
        psnr[cut] = sum(r["psnr"] * r["n"] for r in rows) / sum(r["n"] for r in rows)
        floor[cut] = sum(r["psnr_init"] * r["n"] for r in rows) / sum(r["n"] for r in rows)
        assert all(abs(r["mse255"] - r["mse"] * 255 ** 2) < 1e-6 * r["mse255"] for r in rows)
    print(f"decoder PSNR: pool1 {psnr['pool1']:.1f} dB, pool2 {psnr['pool2']:.1f} dB; prior mean image "
          f"{floor['pool1']:.1f} dB")
    assert psnr["pool1"] > psnr["pool2"] + 2
    assert psnr["pool2"] > floor["pool2"] + 3  # far above the best guess that ignores the activations
