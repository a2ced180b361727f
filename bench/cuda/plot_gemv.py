#!/usr/bin/env python3
"""Draws the decode GEMV benchmark as a picture: GB/s against matrix bytes.

    bench/cuda/plot_gemv.py RESULTS.json OUT.png

RESULTS.json is what `foundry_cuda_gemv_bench --json RESULTS.json` writes:
the device, its measured read roofline (GB/s) and one row per kernel and
shape (model, matrix, n, k, kernel, bytes moved, µs, GB/s). The picture has
one panel per weight policy (F16, Q8_0, Q4_0, Q4_1); in each, one line per
kernel form (row-major, canonical, multi-row, multi-row with 8-bit
activations where the policy has it) over the benchmark's shapes
sorted by bytes, cuBLAS's fp16 GEMV in every panel for reference, and the
measured roofline as a dashed line. Needs matplotlib.
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

POLICIES = ["f16", "q8_0", "q4_0", "q4_1"]
FORMS = [("row-major", ""), ("canonical", "_canonical"), ("multi-row", "_multi_row"),
         ("multi-row, 8-bit x", "_multi_row_q8_act")]


def series(rows, name):
    """(bytes, GB/s) of kernel `name`, sorted by bytes."""
    pts = sorted((r["bytes"], r["gbs"]) for r in rows if r["kernel"] == name)
    return [p[0] / 1e6 for p in pts], [p[1] for p in pts]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        data = json.load(f)
    rows, roof = data["rows"], data["roofline_gbs"]
    cublas = next((r["kernel"] for r in rows if r["kernel"].startswith("cuBLAS")), None)
    fig, axes = plt.subplots(2, 2, figsize=(12, 9), sharex=True, sharey=True)
    for ax, policy in zip(axes.flat, POLICIES):
        for label, suffix in FORMS:
            x, y = series(rows, f"gemv_{policy}{suffix}")
            if x:
                ax.plot(x, y, marker="o", label=f"gemv_{policy}{suffix} ({label})")
        if cublas:
            x, y = series(rows, cublas)
            ax.plot(x, y, marker="s", color="black", linewidth=1, label=cublas + ", fp16 weights")
        ax.axhline(roof, color="gray", linestyle="--", label=f"measured read roofline {roof:.0f} GB/s")
        ax.set_title(policy.upper())
        ax.set_xscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    for ax in axes[1]:
        ax.set_xlabel("MB moved per GEMV (weights + x + y)")
    for ax in axes[:, 0]:
        ax.set_ylabel("GB/s")
    fig.suptitle(f"Decode GEMV, batch 1, on {data['device']} (weights rotated past L2)")
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)


if __name__ == "__main__":
    main()
