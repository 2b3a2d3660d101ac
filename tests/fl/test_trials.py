"""FedAvg and secure-aggregation trials end to end on the offline digits, and what aggregation does to leakage."""

from __future__ import annotations

import math

import pytest

from fedpriv.record import read_results
from fedpriv.trial import run_trial

# Three full trials (150 attack iterations each): left out of the fast suite, which keeps fl/test_simulate.py and
# fl/test_rounds.py for the protocols.
pytestmark = pytest.mark.slow

# The same four private images (one per class) and the same attack budget for every protocol.
SAME = ["attack.iterations=150", "targets.classes=[0,1,2,3]"]


@pytest.fixture(scope="module")
def trials(tmp_path_factory, cache_dir):
    from tests.conftest import compose_config

    out = {}
    for name, extra in {"fedsgd": [], "fedavg": ["fl=fedavg"], "secagg": ["fl=secagg", "fl.clients=8"]}.items():
        folder = tmp_path_factory.mktemp(name)
        overrides = [*extra, *SAME]
        out[name] = (run_trial(compose_config(*overrides, cache_dir=cache_dir), output_dir=folder, overrides=overrides),
                     folder)
    return out


def _mean_psnr(output):
    return sum(r["psnr"] for r in output.rows) / len(output.rows)


@pytest.mark.parametrize("name", ["fedavg", "secagg"])
def test_protocol_trials_write_rows_per_the_results_contract(trials, name):
    output, folder = trials[name]
    rows = read_results(folder / "results.csv")
    assert [r["class"] for r in rows] == ["0", "1", "2", "3"]
    for row in rows:
        assert row["fl"] == name and row["n"] == "1"  # only the target client's own images are scored
        assert row["dataset"] == "digits" and row["model"] == "lenet" and row["attack"] == "inverting_gradients"
        assert 0 <= float(row["ma"]) <= 1 and 0 <= float(row["aa"]) <= 1 and row["epsilon"] == ""
        assert math.isfinite(float(row["psnr"])) and math.isfinite(float(row["ssim"]))
    assert output.images["reconstruction"].shape == (4, 1, 16, 16)
    assert (folder / "reconstructions.png").exists()


def test_fedavg_update_inversion_recovers_the_images(trials):
    fedavg, _ = trials["fedavg"]
    # Four local steps at lr 0.1 on one image: the unrolled attack still recovers it (a random image scores ~8 dB).
    assert _mean_psnr(fedavg) > 18
    assert all(r["label_acc"] == 1.0 for r in fedavg.rows)


def test_secure_aggregation_of_eight_clients_leaks_less_than_one_client(trials):
    single, aggregate = trials["fedsgd"][0], trials["secagg"][0]
    assert _mean_psnr(aggregate) < _mean_psnr(single) - 5
    assert sum(r["ssim"] for r in aggregate.rows) < sum(r["ssim"] for r in single.rows)
