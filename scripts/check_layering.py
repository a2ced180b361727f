#!/usr/bin/env python3
"""Checks Foundry's include layering (run by CTest as `unit.layering`).

Reads every `#include` line of the headers and sources under
include/foundry/ and kernels/ and fails when one points where the layer of
its file may not look. The layers, lowest first (docs: /shared/README.md,
"Layers"):

  core      include/foundry/core/, include/foundry/version.hpp
  metal     include/foundry/metal/
  quant     include/foundry/quant/   GGUF block formats (host code; uses
            metal/half.hpp for its F16 scales); used by kernels/ (policies
            name their GGUF type and repack GGUF blocks) and by io/
  io        include/foundry/io/      GGUF and mapped files; a host-side leaf
            used by examples, tools and tests, never by kernels/ or the DSL
  dsl       include/foundry/dsl/
  runtime   include/foundry/runtime/
  backends  include/foundry/backends/common/ (shared by every backend) and
            include/foundry/backends/<target>/ (one folder per target)
  umbrella  include/foundry/foundry.hpp (may also include the portable Metal
            entry writer, backends/metal/entry.hpp)
  kernels   kernels/common/ (hooks, row dots and helpers shared by families)
            and kernels/<family>/

Rules (each violation names the rule):
  R1  a layer includes only itself and the layers listed in ALLOWED;
  R2  no backend includes another backend (backends/<a> -> backends/<b>);
      every backend may include backends/common, which includes no backend;
  R3  kernels/common includes no kernel family;
  R4  kernel families do not include each other in a cycle (folder level);
  R5  an include of a project path (foundry/..., kernels/...) must name an
      existing file (generated foundry/embedded/... headers excepted).

Usage: check_layering.py [--root DIR]   (DIR defaults to the repository root)
Exit status 0 when clean, 1 on a violation (one line per violation:
`file:line: [rule] message`), 2 on bad usage.

KNOWN_VIOLATIONS lists includes that break a rule today and are being removed
elsewhere; each entry carries its reason. An entry that no longer matches an
include is reported as stale (so the list cannot rot): delete it.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

# Layer -> the other layers it may include (R1). Backend folders other than
# `common` are matched as `backends/*`; kernel families as `kernels/*`.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "metal": {"core"},
    "quant": {"core", "metal"},
    "io": {"core", "metal", "quant"},
    "dsl": {"core", "metal"},
    "runtime": {"core", "metal", "dsl"},
    "backends/common": {"core", "metal", "dsl", "runtime"},
    "backends/*": {"core", "metal", "dsl", "runtime", "backends/common"},
    # The umbrella also brings the Metal entry writer (backends/metal/entry.hpp,
    # portable C++, no metal-cpp), so `metal_source<K>()` works with only
    # <foundry/foundry.hpp>.
    "umbrella": {"core", "metal", "dsl", "runtime", "backends/metal"},
    "kernels/common": {"core", "metal", "dsl", "quant", "embedded"},
    "kernels/*": {"core", "metal", "dsl", "quant", "embedded", "kernels/common", "kernels/*"},
}

# (including file, included path) -> why it is tolerated for now.
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {
}

SCANNED_DIRS = ("include/foundry", "kernels")
SOURCE_SUFFIXES = {".hpp", ".h", ".cpp", ".inl", ".ipp"}
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
BLOCK_COMMENT_RE = re.compile(r"/\*.*?\*/", re.S)


def layer_of(rel: str) -> str | None:
    """The layer of a repository-relative path, or None outside the project."""
    parts = rel.split("/")
    if parts[0] == "include" and len(parts) > 2 and parts[1] == "foundry":
        top = parts[2]
        if len(parts) == 3:
            return {"version.hpp": "core", "foundry.hpp": "umbrella"}.get(top, "umbrella")
        if top == "backends" and len(parts) > 4:
            return "backends/" + parts[3]
        if top in {"core", "quant", "metal", "io", "dsl", "runtime", "embedded"}:
            return top
        return "foundry/" + top  # an unknown folder: no rule allows it
    if parts[0] == "kernels" and len(parts) > 2:
        return "kernels/" + parts[1]
    return None


def rule_key(layer: str) -> str:
    """The ALLOWED key that governs `layer`."""
    if layer in ALLOWED:
        return layer
    for group in ("backends", "kernels"):
        if layer.startswith(group + "/"):
            return group + "/*"
    return layer


def allows(src: str, dst: str) -> tuple[bool, str]:
    """Whether layer `src` may include layer `dst`, and the rule that decides."""
    if src == dst:
        return True, ""
    key = rule_key(src)
    if key == "backends/*" and dst.startswith("backends/") and dst != "backends/common":
        return False, "R2 no backend includes another backend"
    if key == "backends/common" and dst.startswith("backends/"):
        return False, "R2 backends/common includes no backend"
    if key == "kernels/common" and dst.startswith("kernels/"):
        return False, "R3 kernels/common includes no kernel family"
    allowed = ALLOWED.get(key)
    if allowed is None:
        return False, f"R1 layer {src} is not in the layer table (scripts/check_layering.py)"
    if dst in allowed or rule_key(dst) in allowed:
        return True, ""
    listed = ", ".join(sorted(allowed)) or "nothing else"
    return False, f"R1 {src} may include only {listed}"


def resolve(root: Path, src_file: Path, quote: str, target: str) -> str | None:
    """Repository-relative path of an included project file, else None."""
    if quote == '"':
        local = src_file.parent / target
        if local.is_file():
            return local.resolve().relative_to(root).as_posix()
    if target.startswith("foundry/"):
        return "include/" + target
    if target.startswith("kernels/"):
        return target
    return None


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph `edges`, as a node path, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(edges.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(edges):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def check(root: Path) -> list[str]:
    errors: list[str] = []
    used_exceptions: set[tuple[str, str]] = set()
    family_edges: dict[str, set[str]] = {}
    family_sites: dict[tuple[str, str], str] = {}
    for top in SCANNED_DIRS:
        base = root / top
        if not base.is_dir():
            continue
        for f in sorted(base.rglob("*")):
            if f.suffix not in SOURCE_SUFFIXES or not f.is_file():
                continue
            rel = f.relative_to(root).as_posix()
            src = layer_of(rel)
            if src is None:
                continue
            text = f.read_text(encoding="utf-8", errors="replace")
            # Blank out block comments but keep their line breaks (line numbers).
            text = BLOCK_COMMENT_RE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
            for lineno, line in enumerate(text.splitlines(), 1):
                m = INCLUDE_RE.match(line)
                if not m:
                    continue
                quote, target = m.group(1), m.group(2).strip()
                dst_rel = resolve(root, f, quote, target)
                if dst_rel is None:
                    continue
                dst = layer_of(dst_rel)
                if dst is None:
                    continue
                where = f"{rel}:{lineno}"
                if (rel, target) in KNOWN_VIOLATIONS:
                    used_exceptions.add((rel, target))
                    continue
                if dst != "embedded" and not (root / dst_rel).is_file():
                    errors.append(f"{where}: [R5 the included file must exist] #include {target}: no {dst_rel}")
                    continue
                ok, rule = allows(src, dst)
                if not ok:
                    errors.append(f"{where}: [{rule}] {src} includes {dst} (#include {target})")
                if src.startswith("kernels/") and dst.startswith("kernels/") and src != dst:
                    family_edges.setdefault(src, set()).add(dst)
                    family_sites.setdefault((src, dst), where)
    cycle = find_cycle(family_edges)
    if cycle:
        steps = "; ".join(f"{a} -> {b} at {family_sites[(a, b)]}" for a, b in zip(cycle, cycle[1:]))
        errors.append(f"{family_sites[(cycle[0], cycle[1])]}: [R4 kernel families include each other in a "
                      f"cycle] {' -> '.join(cycle)} ({steps})")
    for (rel, target), why in sorted(KNOWN_VIOLATIONS.items()):
        if (rel, target) not in used_exceptions:
            errors.append(f"scripts/check_layering.py: [stale exception] {rel} no longer includes {target} "
                          f"({why}): delete the entry from KNOWN_VIOLATIONS")
    return errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--no-known-violations", action="store_true",
                        help="ignore KNOWN_VIOLATIONS (for checking other trees)")
    args = parser.parse_args()
    root = args.root.resolve()
    if not (root / "include" / "foundry").is_dir() and not (root / "kernels").is_dir():
        print(f"check_layering: {root} has neither include/foundry nor kernels", file=sys.stderr)
        return 2
    if args.no_known_violations:
        KNOWN_VIOLATIONS.clear()
    errors = check(root)
    for e in errors:
        print(e)
    if errors:
        print(f"check_layering: {len(errors)} violation(s)")
        return 1
    print("check_layering: include layering is clean")
    return 0


if __name__ == "__main__":
    sys.exit(main())
