#!/usr/bin/env python3
"""embed_page.py: writes a C file defining NAME[] (the bytes of a text file, NUL-terminated)
and NAME_len, for pages embedded in the binary (meson runs it: src/client/meson rules)."""

import sys


def main():
    src, out, name, header = sys.argv[1:5]
    data = open(src, "rb").read()
    lines = ["/* Generated from %s by embed_page.py at build time: do not edit. */"
             % src.rsplit("/", 1)[-1],
             '#include "%s"' % header, "", "const char %s[] =" % name]
    for line in data.splitlines(keepends=True):
        esc = "".join(chr(b) if 32 <= b < 127 and b not in (34, 92, 63) else "\\%03o" % b
                      for b in line)
        lines.append('    "%s"' % esc)
    if not data:
        lines.append('    ""')
    lines[-1] += ";"
    lines.append("const size_t %s_len = sizeof(%s) - 1;" % (name.replace("_html", ""), name))
    open(out, "w").write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
