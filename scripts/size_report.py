#!/usr/bin/env python3
"""Largest production functions and hand-written files of the Rust crates.

    python3 scripts/size_report.py [ROOT] [--top N]

A function is counted from its `fn` line to its closing brace; code under `#[cfg(test)]`
modules, tests/, benches/, examples/ and generated tables is left out. Used for the re-cut's
"no production function over about 80 lines, no hand-written file over about 1,000" guide.
"""

from __future__ import annotations

import pathlib
import re
import sys

FN = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(unsafe\s+)?fn\s+(\w+)")
SKIP_DIRS = {"target", "tests", "benches", "examples", "fuzz", ".venv", "conformance"}
SKIP_FILES = {"conformance.rs", "tests.rs"}
GENERATED = {"nanp_table.rs"}


def production_lines(text: str) -> list[str]:
    """The file's lines with `#[cfg(test)] mod ... { ... }` blocks blanked out."""
    lines = text.split("\n")
    out = list(lines)
    i = 0
    while i < len(lines):
        if lines[i].strip() == "#[cfg(test)]" and i + 1 < len(lines) and "mod " in lines[i + 1]:
            depth, j, started = 0, i + 1, False
            while j < len(lines):
                depth += lines[j].count("{") - lines[j].count("}")
                started = started or "{" in lines[j]
                out[j] = ""
                if started and depth <= 0:
                    break
                j += 1
            i = j
        i += 1
    return out


def functions(path: pathlib.Path) -> list[tuple[int, str, int]]:
    lines = production_lines(path.read_text())
    found = []
    for i, line in enumerate(lines):
        m = FN.match(line)
        if not m or line.rstrip().endswith(";"):
            continue
        depth, started = 0, False
        for j in range(i, len(lines)):
            depth += lines[j].count("{") - lines[j].count("}")
            started = started or "{" in lines[j]
            if started and depth <= 0:
                found.append((j - i + 1, m.group(5), i + 1))
                break
            if not started and lines[j].rstrip().endswith(";"):
                break
    return found


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    top = int(sys.argv[sys.argv.index("--top") + 1]) if "--top" in sys.argv else 10
    root = pathlib.Path(args[0] if args else ".")
    files = [
        p
        for p in root.rglob("*.rs")
        if not (set(p.relative_to(root).parts[:-1]) & SKIP_DIRS) and p.name not in GENERATED | SKIP_FILES
    ]
    fns = sorted(
        ((n, f"{p.relative_to(root)}:{line} {name}") for p in files for n, name, line in functions(p)),
        reverse=True,
    )
    print(f"largest production functions (of {len(fns)}):")
    for n, where in fns[:top]:
        print(f"  {n:5d}  {where}")
    sizes = sorted(((len(p.read_text().split("\n")), str(p.relative_to(root))) for p in files), reverse=True)
    print("largest hand-written files (lines, tests included):")
    for n, name in sizes[:top]:
        print(f"  {n:5d}  {name}")


if __name__ == "__main__":
    main()
