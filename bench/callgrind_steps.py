#!/usr/bin/env python3
"""Per-step instructions per cached exchange from callgrind_annotate's output (bench/callgrind.sh).

Usage: callgrind_steps.py INCLUSIVE.txt EXCLUSIVE.txt REQUESTS

A step is the inclusive cost of the functions named (each function counted once, the outermost
match: a step's functions do not nest in practice), or for allocation and copying the exclusive
cost of the libc functions. SHA-256 is reported apart and left out of the total (valgrind hides
the CPU's SHA extensions; see bench/callgrind.sh).
"""

import re
import sys

LINE = re.compile(r"^\s*([\d,]+)\s+\([\s\d.]+%\)\s+(?:\S+?:)?(.+?)(?:\s+\[.*\])?$")

# (label, kind, regex on the function name)
STEPS = [
    ("peek (memo lookup or base64url + JSON of the claims)", "incl",
     r"^sts::entra::(validate::peek|memo::PeekMemo::peek)$"),
    ("reading the form", "incl", r"^sts::exchange::form::parse$"),
    ("the registry decision (`Snapshot::decide`: memo lookup, or `registry::decide`)", "incl",
     r"^registry::(decision::decide|snapshot::Snapshot::decide)$"),
    ("writing the JSON answer", "incl", r"^sts::http::answer::"),
    ("service clones per request (`clone_box`)", "incl", r"boxed_clone_sync::CloneService<R>>::clone_box$"),
    ("copying (`memcpy`/`memmove`)", "excl", r"mem(cpy|move)"),
    ("allocation (mimalloc: `mi_*` + `_mi_*`)", "excl", r"^_?mi_\w+$"),
]
SHA = r"sha2::sha256::"


def read(path):
    costs = {}
    total = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if "PROGRAM TOTALS" in line:
                total = int(line.split()[0].replace(",", ""))
                continue
            m = LINE.match(line)
            if m:
                name = m.group(2).strip()
                costs[name] = costs.get(name, 0) + int(m.group(1).replace(",", ""))
    return total, costs


def main():
    incl_path, excl_path, requests = sys.argv[1], sys.argv[2], int(sys.argv[3])
    total, incl = read(incl_path)
    _, excl = read(excl_path)
    sha = max((c for n, c in incl.items() if re.search(SHA, n) and "compress" in n), default=0)
    per = lambda c: c / requests / 1000
    print(f"requests (cache hits while instrumented): {requests}")
    print(f"| step | instructions per cached exchange |")
    print(f"|---|---:|")
    print(f"| whole request (SHA-256 left out) | {per(total - sha):.1f}k |")
    for label, kind, pattern in STEPS:
        table = incl if kind == "incl" else excl
        names = [n for n in table if re.search(pattern, n)]
        if kind == "incl":
            cost = max((table[n] for n in names), default=0) if len(names) > 1 and "clone_box" not in pattern \
                else sum(table[n] for n in names)
        else:
            cost = sum(table[n] for n in names)
        print(f"| {label} | {per(cost):.1f}k |")
    print(f"| SHA-256 in software (left out above) | {per(sha):.1f}k |")


if __name__ == "__main__":
    main()
