"""Encode a LODA arm's private training set into the cache before a sweep, with the trial's own config and code.

    python experiments/seed003/pre_encode.py loda1 dataset.root=../shared/data/cifar10

The trials of the sweep then find every encoding in the cache (``paths.cache_dir``/loda/); this only moves the
encoding out of the sweep's wall clock so that it can be timed on its own.
"""

import sys
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

import fedpriv.config.schema  # noqa: F401  (registers fedpriv_schema)
from fedpriv.defenses import build_defense

arm, overrides = sys.argv[1], sys.argv[2:]
with initialize_config_dir(config_dir=str(Path(__file__).resolve().parents[2] / "conf"), version_base=None):
    cfg = compose("config", overrides=["experiment=seed003_small", f"+seed003_arm={arm}", *overrides])
from hydra.utils import instantiate  # noqa: E402

data = instantiate(cfg.dataset).load()
defense = build_defense(cfg.defense)
start = time.perf_counter()
images = data.train.images.float() / 255
for chunk in images.split(250):
    defense.obscure_images(chunk)
print(f"{arm}: {len(images)} images, {defense._store.encoded} encoded, {time.perf_counter() - start:.0f} s",
      flush=True)
