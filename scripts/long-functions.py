#!/usr/bin/env python3
"""Functions longer than a limit (default 100 lines, signature to closing brace) in the
workspace's library and binary sources; test modules (`#[cfg(test)]`), `tests/` directories
and the tests crate are left out. Exits 1 if there is one.
Usage: scripts/long-functions.py [LIMIT]"""
import os, re, sys

FN = re.compile(r"^\s*(pub(\([a-z]+\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+([A-Za-z0-9_]+)")

def strip(line):
    """The line without string and char literals and comments (enough to count braces)."""
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(\\.|[^'\\])'", "''", line)
    return line.split("//")[0]

def functions(path):
    lines = open(path).read().split("\n")
    cut = next((k for k, l in enumerate(lines) if l.strip() == "#[cfg(test)]"), len(lines))
    k = 0
    while k < cut:
        m = FN.match(lines[k])
        if not m:
            k += 1
            continue
        depth, start, opened = 0, k, False
        j = k
        while j < len(lines):
            s = strip(lines[j])
            if not opened and ";" in s and "{" not in s:
                break  # a declaration without a body
            depth += s.count("{") - s.count("}")
            opened = opened or "{" in s
            if opened and depth <= 0:
                yield m.group(6), start + 1, j - start + 1
                break
            j += 1
        k = j + 1 if opened else k + 1

def main():
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    long = []
    for crate in sorted(os.listdir(root)):
        src = os.path.join(root, crate, "src")
        if crate == "tests" or not os.path.isfile(os.path.join(root, crate, "Cargo.toml")):
            continue
        for dirpath, _, files in os.walk(src):
            for f in sorted(files):
                if f.endswith(".rs") and not f.endswith("_tests.rs") and f != "machine_table.rs":
                    p = os.path.join(dirpath, f)
                    for name, line, n in functions(p):
                        if n > limit:
                            long.append((n, os.path.relpath(p, root), line, name))
    for n, p, line, name in sorted(long, reverse=True):
        print(f"{n:4} lines  {p}:{line}  {name}")
    print(f"long-functions: {len(long)} function(s) over {limit} lines")
    return 1 if long else 0

sys.exit(main())
