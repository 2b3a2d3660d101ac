"""Trained weights are cached by config hash, written atomically, and bad weight files get clear errors."""

from __future__ import annotations

import multiprocessing as mp

import pytest
import torch
from torch import nn

from fedpriv.errors import CheckpointError
from fedpriv.training import ModelCache, load_weights


def _net():
    torch.manual_seed(0)
    return nn.Linear(4, 2)


def _fake_train(model):
    with torch.no_grad():
        model.weight.fill_(1.5)
    return {"test_accuracy": 0.5, "epsilon": None}


def test_trains_once_then_loads(tmp_path):
    cache, calls = ModelCache(tmp_path), []
    key = {"model": "linear", "seed": 0}

    def train(model):
        calls.append(1)
        return _fake_train(model)

    assert cache.get_or_train("victim", key, _net(), train)["test_accuracy"] == 0.5
    loaded = _net()
    meta = cache.get_or_train("victim", key, loaded, train)
    assert len(calls) == 1 and meta["test_accuracy"] == 0.5
    assert torch.all(loaded.weight == 1.5)
    other = cache.get_or_train("victim", {"model": "linear", "seed": 1}, _net(), train)
    assert len(calls) == 2 and other["test_accuracy"] == 0.5
    leftovers = [p.name for p in cache.root.iterdir() if p.suffix not in (".pt", ".lock")]
    assert leftovers == []  # no temporary files remain


def test_key_order_does_not_matter(tmp_path):
    cache = ModelCache(tmp_path)
    assert cache.path("x", {"a": 1, "b": {"c": 2, "d": 3}}) == cache.path("x", {"b": {"d": 3, "c": 2}, "a": 1})


def test_corrupt_cache_file_is_retrained(tmp_path, caplog):
    cache = ModelCache(tmp_path)
    key = {"k": 1}
    path = cache.path("victim", key)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a checkpoint")
    meta = cache.get_or_train("victim", key, _net(), _fake_train)
    assert meta["test_accuracy"] == 0.5 and "training again" in caplog.text
    load_weights(_net(), path)  # now a valid file


def test_malformed_checkpoints_get_clear_errors(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00\x01 definitely not torch")
    with pytest.raises(CheckpointError, match="unreadable"):
        load_weights(_net(), garbage)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_weights(_net(), tmp_path / "missing.pt")
    wrong = tmp_path / "wrong.pt"
    torch.save({"state_dict": nn.Linear(3, 3).state_dict()}, wrong)
    with pytest.raises(CheckpointError, match="does not fit Linear"):
        load_weights(_net(), wrong)
    pickled = tmp_path / "pickled.pt"
    torch.save({"state_dict": _net().state_dict(), "meta": {"obj": _Unsafe()}}, pickled)
    with pytest.raises(CheckpointError, match="unreadable"):  # weights_only=True refuses arbitrary objects
        load_weights(_net(), pickled)


class _Unsafe:
    pass


def _worker(root, queue):
    cache = ModelCache(root)

    def train(model):
        queue.put("trained")
        return _fake_train(model)

    cache.get_or_train("victim", {"shared": True}, _net(), train)
    queue.put("done")


@pytest.mark.slow  # three spawned processes, each importing torch
def test_parallel_jobs_train_a_shared_model_once(tmp_path):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(str(tmp_path), queue)) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    events = [queue.get(timeout=5) for _ in range(4)]
    assert events.count("trained") == 1 and events.count("done") == 3


def test_written_files_follow_the_umask(tmp_path):
    import os
    import stat

    from fedpriv.utils.io import atomic_write_text

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "shared.csv", "a,b\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "shared.csv").stat().st_mode) == 0o644
