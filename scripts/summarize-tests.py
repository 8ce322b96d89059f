#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Count meson test results over several runs; print why each skipped test skipped.

The last line is 'N passed, N failed, N skipped' for CI to read.
"""
import json
import sys

PASSED = {"OK", "EXPECTEDFAIL"}
SKIPPED = {"SKIP"}

passed = failed = skipped = 0
for path in sys.argv[1:]:
    run = path.split("/")[0] + ("+valgrind" if "valgrind" in path else "")
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError as e:
        print(f"{path}: {e}")
        failed += 1
        continue
    for line in lines:
        t = json.loads(line)
        result = t.get("result", "ERROR")
        if result in PASSED:
            passed += 1
        elif result in SKIPPED:
            skipped += 1
            out = (t.get("stdout") or "") + (t.get("stderr") or "")
            why = next((l for l in out.splitlines() if l.startswith("SKIP")), "no reason given")
            print(f"skipped [{run}] {t['name']}: {why}")
        else:
            failed += 1
            print(f"failed [{run}] {t['name']}: {result}")

print(f"{passed} passed, {failed} failed, {skipped} skipped")
