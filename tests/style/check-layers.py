#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The layout's rules, checked: dependencies point one way (exporter and web above collectors,
collectors above netlink and common), and no source file grows past 600 lines without saying
why at its top ("Longer than 600 lines: <reason>")."""
import os
import re
import sys

# What each folder's files may include, besides their own folder and system headers.
ALLOWED = {
    "common": set(),
    "netlink": {"common"},
    "collectors": {"netlink", "common"},
    "web": {"common"},
    "exporter": {"collectors", "netlink", "common"},
}
# main.c wires the daemon core to the web front: the one file that sees both.
EXCEPTIONS = {("exporter", "main.c"): {"web"}}
MAX_LINES = 600
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def main(top):
    owner = {}
    for d in ALLOWED:
        for f in os.listdir(os.path.join(top, d)):
            if f.endswith(".h"):
                owner[f] = d
    bad = []
    for d, allowed in ALLOWED.items():
        for f in sorted(os.listdir(os.path.join(top, d))):
            if not f.endswith((".c", ".h")):
                continue
            text = open(os.path.join(top, d, f), encoding="utf-8").read()
            ok = allowed | {d} | EXCEPTIONS.get((d, f), set())
            for h in INCLUDE.findall(text):
                if h not in owner:
                    bad.append(f"{d}/{f}: includes \"{h}\", which is in no folder of the layout")
                elif owner[h] not in ok:
                    bad.append(f"{d}/{f}: includes {owner[h]}/{h}: {d}/ may use only {sorted(ok)}")
            n = text.count("\n")
            if n > MAX_LINES and "Longer than 600 lines:" not in text[:2000]:
                bad.append(f"{d}/{f}: {n} lines, over {MAX_LINES} without a stated reason")
    for b in bad:
        print(b)
    print(f"{'FAIL' if bad else 'PASS'}: layers and sizes, {len(bad)} problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
