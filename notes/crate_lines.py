#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
# Lines of the Rust LUO crate without its KUnit modules (each file is cut at
# "#[kunit_tests"): total, and lines that are neither blank nor "//".
#   python3 notes/crate_lines.py            (the LUO crate: luo_*.rs and the
#                                            modules staging/mod.rs and
#                                            capi/mod.rs declare, except
#                                            those only KUnit builds have)
#   python3 notes/crate_lines.py FILE...    (those files)
import os
import re
import sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')


def crate_files():
    files = sorted(f for f in os.listdir(root) if re.fullmatch(r'luo_\w+\.rs', f))
    for d in ('staging', 'capi'):
        text = open(os.path.join(root, d, 'mod.rs')).read()
        files.append(f'{d}/mod.rs')
        # Modules only KUnit builds have are tests.
        files += [f'{d}/{m}.rs' for k, m in
                  re.findall(r'^(#\[cfg\(CONFIG_KUNIT[^\n]*\n(?:#\[.*\n)*)?pub\(crate\) mod (\w+);',
                             text, re.M) if not k]
    return [os.path.join(root, f) for f in files]


total = code = 0
for name in sys.argv[1:] or crate_files():
    text = open(name).read()
    cut = text.find('#[kunit_tests')
    for line in (text if cut < 0 else text[:cut]).splitlines():
        total += 1
        s = line.strip()
        if s and not s.startswith('//'):
            code += 1
print(f'{total} lines, {code} neither blank nor comment')
