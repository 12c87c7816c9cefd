#!/usr/bin/env python3
"""Import cycles between the files of each crate: files that name each other, directly or
through others (`crate::x`, `super::x`). Prints every cycle and exits 1 if there is one; 0 otherwise.
Usage: scripts/module-cycles.py [CRATE_DIR...] (default: every crate of the workspace)."""
import os, re, sys

def module_of(src_root, path):
    rel = os.path.relpath(path, src_root)[:-3]
    parts = rel.split(os.sep)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return "::".join(parts)

def edges(src_root):
    mods, out = {}, {}
    for dirpath, _, files in os.walk(src_root):
        for f in files:
            if f.endswith(".rs") and "/bin" not in dirpath and not (f == "main.rs" and dirpath == src_root):
                p = os.path.join(dirpath, f)
                mods[module_of(src_root, p)] = p
    for m, p in mods.items():
        text = open(p).read()
        # Test modules may reach anywhere: they are not part of the seam.
        text = text.split("#[cfg(test)]")[0]
        targets = set()
        paths = re.findall(r"crate::([A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)*)", text)
        for group in re.findall(r"crate::\{([^}]*)\}", text):
            paths += [p.strip().split(" ")[0] for p in group.split(",") if p.strip()]
        for path in paths:
            segs = path.split("::")
            # The longest module the path names; an item of the crate root otherwise.
            owner = ""
            for k in range(len(segs), 0, -1):
                if "::".join(segs[:k]) in mods:
                    owner = "::".join(segs[:k])
                    break
            targets.add(owner)
        parent = "::".join(m.split("::")[:-1])
        supers = re.findall(r"super::([a-z_][a-z0-9_]*)", text)
        for group in re.findall(r"super::\{([^}]*)\}", text):
            supers += [p.strip().split("::")[0] for p in group.split(",") if p.strip()]
        for name in supers:
            cand = f"{parent}::{name}" if parent else name
            if cand in mods:
                targets.add(cand)
        targets.discard(m)
        # A module naming its own parent or child is structure, not a seam.
        out[m] = {t for t in targets if not t.startswith(m + "::") or m == ""}
        out[m].discard(m)
    return out

def cycles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]
    def visit(v):
        index[v] = low[v] = n[0]; n[0] += 1
        stack.append(v); on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))
    for v in list(graph):
        if v not in index:
            visit(v)
    return out

def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    crates = sys.argv[1:] or [d for d in sorted(os.listdir(root))
                              if os.path.isfile(os.path.join(root, d, "Cargo.toml"))
                              and os.path.isdir(os.path.join(root, d, "src"))]
    bad = 0
    for c in crates:
        for comp in cycles(edges(os.path.join(root, c, "src"))):
            print(f"{c}: {' <-> '.join(comp)}")
            bad += 1
    print(f"module-cycles: {bad} cycle(s) between files")
    return 1 if bad else 0

sys.exit(main())
