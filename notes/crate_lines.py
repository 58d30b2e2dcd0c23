#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
# Lines of the Rust LUO crate without its KUnit modules (each file is cut at
# "#[kunit_tests"): total, and lines that are neither blank nor "//".
#   python3 notes/crate_lines.py *.rs staging/*.rs capi/*.rs
import sys

total = code = 0
for name in sys.argv[1:]:
    text = open(name).read()
    cut = text.find('#[kunit_tests')
    for line in (text if cut < 0 else text[:cut]).splitlines():
        total += 1
        s = line.strip()
        if s and not s.startswith('//'):
            code += 1
print(f'{total} lines, {code} neither blank nor comment')
