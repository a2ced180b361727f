#!/usr/bin/env python3
"""Fails when the CPU and CUDA MSL preludes share a run of identical lines.

What both preludes need (vectors, swizzles, operators, math, the
SIMD-group matrix contract) lives once in include/foundry/backends/common/;
each prelude keeps only what differs for its target. A run of MIN_RUN or
more consecutive identical lines (compared without leading and trailing
blanks) in both files is code that belongs in the common folder.

Usage: check_prelude_duplicates.py [--root DIR] [--min-run N]
Exit status: 0 when no such run exists, 1 otherwise (each run is printed
with its line numbers in both files).
"""
import argparse
import pathlib
import sys


def runs(a, b, min_run):
    """Maximal runs (length, line in a, line in b) of equal lines, 1-based."""
    where = {}
    for j, line in enumerate(b):
        where.setdefault(line, []).append(j)
    found = []
    for i, line in enumerate(a):
        for j in where.get(line, []):
            if i > 0 and j > 0 and a[i - 1] == b[j - 1]:
                continue  # not the start of a maximal run
            k = 0
            while i + k < len(a) and j + k < len(b) and a[i + k] == b[j + k]:
                k += 1
            if k >= min_run:
                found.append((k, i + 1, j + 1))
    return sorted(found, reverse=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=pathlib.Path(__file__).resolve().parent.parent, type=pathlib.Path)
    parser.add_argument("--min-run", default=6, type=int)
    args = parser.parse_args()
    backends = args.root / "include" / "foundry" / "backends"
    cpu, cuda = backends / "cpu" / "msl_prelude.h", backends / "cuda" / "msl_prelude.h"
    a = [line.strip() for line in cpu.read_text().splitlines()]
    b = [line.strip() for line in cuda.read_text().splitlines()]
    found = runs(a, b, args.min_run)
    for length, i, j in found:
        print(f"{length} identical lines: {cpu}:{i} and {cuda}:{j}")
    if found:
        print(f"move them to {backends / 'common'}", file=sys.stderr)
        return 1
    print(f"no run of {args.min_run} or more identical lines between the two preludes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
