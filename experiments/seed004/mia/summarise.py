"""Print MIA.md's Tables 7-9 (markdown rows) from the report's merged membership rows, next to the seed's numbers.

    python experiments/seed004/mia/summarise.py experiments/seed004/mia/report/membership_results.csv
"""

import csv
import sys

SEED7 = {("conv", 4): "74.8 / 54.0 (C16)", ("conv", 8): "80.1 / 57.5 (C32)", ("conv", 16): "85.1 / 59.2 (C64)",
         ("conv", 32): "92.1 / 64.2 (C128)", ("fc", 64): "77.3 / 54.1", ("fc", 256): "78.8 / 55.2",
         ("fc", 1024): "78.0 / 53.8", ("fc", 2048): "78.1 / 54.3"}
SEED8 = {("mnist", "lenet5"): "99.8 / 51.1", ("fashion_mnist", "lenet5"): "92.7 / 51.4",
         ("cifar10", "lenet5"): "65.5 / 60.1", ("mnist", "alexnet_small"): "99.1 / 50.9",
         ("fashion_mnist", "alexnet_small"): "93.4 / 52.5", ("cifar10", "alexnet_small"): "77.6 / 56.5"}
SEED9 = {("mnist", "none"): "98.8 / 50.8", ("mnist", "dpsgd"): "98.6 / 50.4 (eps 1.75)",
         ("cifar10", "none"): "77.2 / 59.8", ("cifar10", "dpsgd"): "71.5 / 54.3 (eps 1.75)"}


def knob(row, key, default):
    for token in row["overrides"].split():
        k, _, v = token.partition("=")
        if k == key:
            return int(float(v))
    return default


def pct(row, key):
    return f"{100 * float(row[key]):.1f}" if row.get(key) not in (None, "") else "-"


def auc(row, key):
    return f"{float(row[key]):.3f}" if row.get(key) not in (None, "") else "-"


def main(path):
    rows = list(csv.DictReader(open(path)))
    cells = {}
    for r in rows:
        key = (r["dataset"], r["model"], r["defense"], r.get("noise_multiplier") or "",
               knob(r, "model.conv_width", 16), knob(r, "model.fc_width", 64))
        cells.setdefault(key, {})[r["attack"]] = r

    def line(label, seed, attacks, dp=False):
        any_row = next(iter(attacks.values()))
        target = f"{pct(any_row, 'target_train_acc')} / {pct(any_row, 'target_test_acc')}"
        if dp:
            eps = any_row.get("epsilon")
            target += f", eps {float(eps):.2f}" if eps else ""
        s, lira = attacks.get("mia_shadow"), attacks.get("mia_lira")
        shadow = f"{pct(s, 'mia_acc')} / {auc(s, 'mia_auc')}" if s else "not run"
        lr = f"{pct(lira, 'mia_acc')} / {auc(lira, 'mia_auc')} / {pct(lira, 'tpr_at_1pct_fpr')}" if lira else "not run"
        loss = f"{pct(any_row, 'loss_acc')} / {auc(any_row, 'loss_auc')}"
        return f"| {label} | {seed} | {target} | {shadow if not dp else lr} | {lr if not dp else loss} |" + (
            "" if dp else f" {loss} |")

    print("TABLE7")
    for conv in (4, 8, 16, 32):
        if ("cifar10", "lenet5", "none", "", conv, 64) in cells:
            print(line(f"conv {conv}", SEED7[("conv", conv)], cells[("cifar10", "lenet5", "none", "", conv, 64)]))
    for fc in (64, 256, 1024, 2048):
        if ("cifar10", "lenet5", "none", "", 16, fc) in cells:
            print(line(f"FC {fc}", SEED7[("fc", fc)], cells[("cifar10", "lenet5", "none", "", 16, fc)]))
    print("TABLE8")
    for model in ("lenet5", "alexnet_small"):
        for data in ("mnist", "fashion_mnist", "cifar10"):
            key = (data, model, "none", "", 16, 64)
            print(line(f"{data} {model}", SEED8[(data, model)], cells[key]) if key in cells else
                  f"| {data} {model} | {SEED8[(data, model)]} | not run | | | |")
    print("TABLE9")
    for data in ("mnist", "cifar10"):
        for defense, sigma in (("none", ""), ("dpsgd", "1.0"), ("dpsgd", "7.4")):
            key = (data, "lenet5", defense, sigma, 16, 64)
            seed = SEED9[(data, defense)] if sigma != "1.0" else "-"
            label = f"{data} {'no DP' if defense == 'none' else f'DP-SGD sigma {sigma}'}"
            if key in cells:
                print(line(label, seed, cells[key], dp=True))
            else:
                print(f"| {label} | {seed} | not run | | |")


if __name__ == "__main__":
    main(sys.argv[1])
