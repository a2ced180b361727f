#!/usr/bin/env python3
"""Tests of scripts/check_layering.py (CTest `unit.layering_checker`).

Each case writes a small fake tree (include/foundry/..., kernels/...) into a
temporary folder, runs the checker on it and checks the exit status and the
reported file, line and rule. A clean tree must pass, so a checker that
always fails is caught as well as one that never does.

Usage: check_layering_test.py <path of check_layering.py>
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

CHECKER = Path(sys.argv.pop(1) if len(sys.argv) > 1 else
               Path(__file__).resolve().parents[2] / "scripts" / "check_layering.py")

# A tree that follows every rule; cases add one bad file to it.
CLEAN = {
    "include/foundry/core/fixed_string.hpp": "#pragma once\n#include <string>\n",
    "include/foundry/metal/half.hpp": '#pragma once\n#include "foundry/core/fixed_string.hpp"\n',
    "include/foundry/quant/blocks.hpp": '#pragma once\n#include "foundry/metal/half.hpp"\n',
    "include/foundry/io/gguf.hpp": '#pragma once\n#include "foundry/quant/blocks.hpp"\n',
    "include/foundry/dsl/stage.hpp": '#pragma once\n#include <foundry/metal/half.hpp>\n',
    "include/foundry/runtime/executor.hpp": '#pragma once\n#include "foundry/dsl/stage.hpp"\n',
    "include/foundry/backends/common/disk_cache.hpp": '#pragma once\n#include "foundry/runtime/executor.hpp"\n',
    "include/foundry/backends/cpu/abi.h": "#pragma once\n",
    "include/foundry/backends/cpu/entry.hpp": ('#pragma once\n#include "abi.h"\n'
                                               '#include "foundry/backends/common/disk_cache.hpp"\n'),
    "include/foundry/backends/cuda/entry.hpp": '#pragma once\n#include "foundry/backends/common/disk_cache.hpp"\n',
    "include/foundry/foundry.hpp": '#pragma once\n#include "foundry/runtime/executor.hpp"\n',
    "kernels/common/row_dot.hpp": ('#pragma once\n#include "foundry/dsl/stage.hpp"\n'
                                   '#include "foundry/embedded/common/rmsnorm.metal.hpp"\n'),
    "kernels/gemv/gemv.hpp": ('#pragma once\n#include "kernels/common/row_dot.hpp"\n'
                              '#include "foundry/quant/blocks.hpp"\n'),
    "kernels/rmsnorm/aliases.hpp": '#pragma once\n#include "kernels/gemv/gemv.hpp"\n',
}


def run_checker(files: dict[str, str]) -> tuple[int, str]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        done = subprocess.run([sys.executable, str(CHECKER), "--root", str(root), "--no-known-violations"],
                              capture_output=True, text=True, check=False)
        return done.returncode, done.stdout + done.stderr


def with_file(rel: str, text: str) -> dict[str, str]:
    files = dict(CLEAN)
    files[rel] = text
    return files


class CheckLayering(unittest.TestCase):
    def assert_violation(self, files: dict[str, str], where: str, rule: str) -> None:
        code, out = run_checker(files)
        self.assertEqual(code, 1, out)
        self.assertIn(where, out)
        self.assertIn(rule, out)

    def test_clean_tree_passes(self) -> None:
        code, out = run_checker(CLEAN)
        self.assertEqual(code, 0, out)
        self.assertIn("clean", out)

    def test_core_including_dsl_fails(self) -> None:
        files = with_file("include/foundry/core/bad.hpp", '#pragma once\n\n#include "foundry/dsl/stage.hpp"\n')
        self.assert_violation(files, "include/foundry/core/bad.hpp:3:", "R1 core may include only nothing else")

    def test_dsl_including_runtime_fails_with_angle_brackets(self) -> None:
        files = with_file("include/foundry/dsl/bad.hpp", "#include <foundry/runtime/executor.hpp>\n")
        self.assert_violation(files, "include/foundry/dsl/bad.hpp:1:", "R1 dsl may include only core, metal")

    def test_backend_including_another_backend_fails(self) -> None:
        files = with_file("include/foundry/backends/cuda/nvrtc.hpp",
                          '#pragma once\n#include "foundry/backends/cpu/abi.h"\n')
        self.assert_violation(files, "include/foundry/backends/cuda/nvrtc.hpp:2:",
                              "R2 no backend includes another backend")

    def test_backends_common_including_a_backend_fails(self) -> None:
        files = with_file("include/foundry/backends/common/prelude.hpp",
                          '#include "foundry/backends/cpu/entry.hpp"\n')
        self.assert_violation(files, "include/foundry/backends/common/prelude.hpp:1:",
                              "R2 backends/common includes no backend")

    def test_kernels_including_io_or_runtime_fails(self) -> None:
        files = with_file("kernels/gemv/aliases.hpp", '#include "foundry/io/gguf.hpp"\n')
        self.assert_violation(files, "kernels/gemv/aliases.hpp:1:", "R1 kernels/gemv may include only")
        files = with_file("kernels/gemv/aliases.hpp", '#include "foundry/runtime/executor.hpp"\n')
        self.assert_violation(files, "kernels/gemv/aliases.hpp:1:", "R1 kernels/gemv may include only")

    def test_kernels_common_including_a_family_fails(self) -> None:
        files = with_file("kernels/common/hooks.hpp", '#include "kernels/gemv/gemv.hpp"\n')
        self.assert_violation(files, "kernels/common/hooks.hpp:1:", "R3 kernels/common includes no kernel family")

    def test_family_cycle_fails(self) -> None:
        files = with_file("kernels/gemv/aliases.hpp", '#pragma once\n#include "kernels/rmsnorm/aliases.hpp"\n')
        self.assert_violation(files, "kernels/", "R4 kernel families include each other in a cycle")

    def test_missing_project_header_fails(self) -> None:
        files = with_file("include/foundry/dsl/bad.hpp", '#include "foundry/dsl/no_such_header.hpp"\n')
        self.assert_violation(files, "include/foundry/dsl/bad.hpp:1:", "R5 the included file must exist")

    def test_commented_out_include_is_ignored(self) -> None:
        files = with_file("include/foundry/core/doc.hpp",
                          '/// #include "foundry/runtime/executor.hpp"\n/*\n#include "foundry/dsl/stage.hpp"\n*/\n')
        code, out = run_checker(files)
        self.assertEqual(code, 0, out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
