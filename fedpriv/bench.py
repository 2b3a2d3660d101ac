"""Speed of the attack engine, measured side by side in one run on the current device.

    python -m fedpriv.bench [--root ../shared/data/cifar10] [--width 64] [--iterations 5] [--device cuda]

Prints three comparisons:

(a) milliseconds per attack iteration of the Lightning attack module (one problem) against a plain PyTorch
    loop doing the same math (same loss, Adam on signed gradients, step schedule, box), and their ratio;
(b) reconstructions per second of the batched engine (``attack.parallel=K``) against K sequential runs, for
    K = 1, 8, 32, 64, 128, and the speed-up;
(c) the mean PSNR that both paths reach on the same problems, to show they give the same reconstructions.

Images are real: CIFAR-10 when ``--root`` points at it (torchvision files or an ImageFolder tree), otherwise
scikit-learn's bundled digits. The victim is an untrained Inverting-Gradients ConvNet in eval mode.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from fedpriv.attacks import AttackProblem, InvertingGradients
from fedpriv.attacks.engine import MatchingModule, initial_images, run_matching, step_milestones
from fedpriv.fl import FedSGD
from fedpriv.metrics import psnr
from fedpriv.models import ConvNet
from fedpriv.utils.runtime import quiet_lightning, resolve_device


def _data(root):
    from fedpriv.data import CIFAR10, Digits

    if root:
        return CIFAR10(root=root, download=False, train_per_class=1, test_per_class=13).load()
    return Digits(image_size=32).load()


def _problems(data, model, count, device):
    problems = []
    for i in range(count):
        j = i % len(data.test)
        x, y = data.normalize(data.test.images[j : j + 1]).to(device), data.test.labels[j : j + 1].to(device)
        update = FedSGD().shared_update(model, x, y)
        problems.append(AttackProblem(model=model, update=update, shape=tuple(data.shape), num_classes=data.num_classes,
                                      bounds=data.bounds(device), labels=y, seed=i, device=device))
    return problems


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def lightning_vs_plain(problem, iterations, device) -> dict:
    """(a): the same single-problem optimisation, through the Lightning module and through a bare loop."""
    attack = InvertingGradients(iterations=iterations, labels="given")
    loss = attack.problem_loss(problem)
    targets = [g.unsqueeze(0) for g in problem.update.gradients]
    init = initial_images("randn", (1, 1, *problem.shape), problem.bounds, torch.Generator().manual_seed(0)).to(device)
    low, high = problem.bounds

    def lightning():
        module = MatchingModule(problem_loss=loss, targets=targets, labels=problem.labels.unsqueeze(0), init=init,
                                bounds=problem.bounds, iterations=iterations, lr=0.1, vectorize=False)
        seconds = run_matching(module, device=device)
        return seconds, module.candidate.detach()[0]

    def plain():
        x = init.clone().requires_grad_(True)
        optimizer = torch.optim.Adam([x], lr=0.1)
        schedule = torch.optim.lr_scheduler.MultiStepLR(optimizer, step_milestones(iterations), gamma=0.1)
        _sync(device)
        start = time.perf_counter()
        for _ in range(iterations):
            optimizer.zero_grad()
            total, _ = loss(x[0], problem.labels, *[t[0] for t in targets])
            total.backward(inputs=[x])
            x.grad.sign_()
            optimizer.step()
            schedule.step()
            with torch.no_grad():
                x.copy_(torch.maximum(torch.minimum(x, high), low))
        _sync(device)
        return time.perf_counter() - start, x.detach()[0]

    lightning(), plain()  # warm-up: allocator, kernels, first-call imports
    (t_lightning, a), (t_plain, b) = lightning(), plain()
    return {"lightning_ms": 1000 * t_lightning / iterations, "plain_ms": 1000 * t_plain / iterations,
            "ratio": t_lightning / t_plain, "same_result": bool(torch.allclose(a, b, atol=1e-4))}


def batched_vs_sequential(problems, iterations, device, sizes) -> list[dict]:
    """(b): reconstructions per second with K problems in one vectorised computation vs one at a time."""
    rows = []
    for k in sizes:
        subset = problems[:k]
        timings = {}
        for name, parallel in (("sequential", 1), ("batched", k)):
            attack = InvertingGradients(iterations=iterations, labels="given", parallel=parallel)
            _sync(device)
            start = time.perf_counter()
            attack.reconstruct_many(subset)
            _sync(device)
            timings[name] = time.perf_counter() - start
        rows.append({"K": k, "sequential_per_s": k / timings["sequential"], "batched_per_s": k / timings["batched"],
                     "speedup": timings["sequential"] / timings["batched"]})
    return rows


def quality(data, problems, iterations, device) -> dict:
    """(c): mean PSNR of the same problems attacked one by one and all together."""
    out = {}
    for name, parallel in (("sequential", 1), ("batched", len(problems))):
        results = InvertingGradients(iterations=iterations, labels="given", parallel=parallel).reconstruct_many(problems)
        values = []
        for p, r in zip(problems, results):
            original = data.normalize(data.test.images[p.seed % len(data.test)][None]).to(device)
            values.append(psnr(data.denormalize(r.images).cpu(), data.denormalize(original).cpu()).item())
        out[name] = sum(values) / len(values)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fedpriv.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=None, help="CIFAR-10 root (default: scikit-learn digits, offline)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--width", type=int, default=None, help="ConvNet width (default 64 on GPU, 16 on CPU)")
    parser.add_argument("--iterations", type=int, default=None, help="iterations per timing run (default 20 on GPU, 5 on CPU)")
    parser.add_argument("--sizes", default="1,8,32,64,128", help="K values for (b)")
    parser.add_argument("--a-iterations", type=int, default=300,
                        help="iterations of the single attack timed in (a), a typical attack length (default 300)")
    parser.add_argument("--quality-iterations", type=int, default=100)
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)

    quiet_lightning()
    device = resolve_device(args.device)
    width = args.width or (64 if device.type == "cuda" else 16)
    iterations = args.iterations or (20 if device.type == "cuda" else 5)
    sizes = [int(k) for k in args.sizes.split(",")]
    data = _data(args.root)
    torch.manual_seed(0)
    model = ConvNet(in_shape=tuple(data.shape), num_classes=data.num_classes, width=width).to(device).eval()
    problems = _problems(data, model, max(sizes), device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    print(f"fedpriv.bench on {name}: {data.name} {tuple(data.shape)}, ConvNet width {width}, batch size 1\n")

    a = lightning_vs_plain(problems[0], args.a_iterations, device)
    print(f"(a) one attack iteration, averaged over a {args.a_iterations}-iteration attack (set-up included)")
    print(f"    Lightning module {a['lightning_ms']:8.2f} ms   plain loop {a['plain_ms']:8.2f} ms   "
          f"ratio {a['ratio']:.3f} (target <= 1.15)   same result: {a['same_result']}")
    b = batched_vs_sequential(problems, iterations, device, sizes)
    print(f"(b) reconstructions per second, {iterations} iterations each")
    for row in b:
        print(f"    K={row['K']:4d}   sequential {row['sequential_per_s']:9.3f}/s   batched {row['batched_per_s']:9.3f}/s"
              f"   speed-up {row['speedup']:6.2f}x")
    c = quality(data, problems[:8], args.quality_iterations, device)
    print(f"(c) mean PSNR over 8 images after {args.quality_iterations} iterations: sequential {c['sequential']:.2f} dB, "
          f"batched {c['batched']:.2f} dB")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": name, "width": width, "iterations": iterations, "a": a, "b": b, "c": c}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
