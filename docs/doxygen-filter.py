#!/usr/bin/env python3
"""Doxygen input filter for include/rwkv (docs/Doxyfile, FILTER_PATTERNS).

The headers document themselves with plain // comments. This filter hands Doxygen a copy in which
those comments are doc comments, so the API reference shows them, without a Doxygen dialect in the
sources. Every line stays on its line (the reference's "Definition at line N" stays true; the source
pages show the real text, FILTER_SOURCE_FILES = NO):

* the comment block that opens a file becomes the file's description (/// ... \\file);
* a whole-line // comment at namespace level (unindented) or in a class body (indented 4) becomes
  ///, so it documents the declaration below it; separator lines (// ---- x ----), comments before
  a `namespace` line and comments inside function bodies stay plain;
* a // comment after a member or an enumerator (after ; or ,) at those levels becomes ///<;
* in the converted text, outside `code spans`, the characters Doxygen would read as commands or
  HTML (backslash, @, <, >, #, ::) are escaped, so prose such as "\\xHH" or "<prefix>" prints as written;
* two C++20 constructs Doxygen 1.9's parser misreads are hidden from it: a trailing requires-clause
  alone on its line (`requires Space::host_accessible`, which derails the parse of core/tensor.hpp),
  and the std::ranges::enable_borrowed_range specialization.
"""
import pathlib
import re
import sys

REQUIRES_LINE = re.compile(r"^\s*requires [A-Za-z_:]+\s*$")
BORROWED_RANGE = re.compile(r"^inline constexpr bool enable_borrowed_range<")
WHOLE_LINE = re.compile(r"^((?:    )?)//(?!/)( ?)(.*)$")
SEPARATOR = re.compile(r"^\s*// ?-{3,}")
TRAILING = re.compile(r"^(.*[;,])(\s+)//(?![/<])( ?)(.*)$")


def escape_prose(text):
    """Escapes Doxygen command and HTML characters outside `code spans`."""
    parts = text.split("`")
    for i in range(0, len(parts), 2):  # even parts are outside backticks
        p = parts[i]
        p = p.replace("\\", "\\\\").replace("@", "\\@").replace("<", "\\<").replace(">", "\\>")
        p = p.replace("#", "\\#").replace("::", "\\::")
        parts[i] = p
    if len(parts) % 2 == 0:  # an unmatched backtick: leave it literal
        parts[-2] = parts[-2] + "\\`" + parts.pop()
    return "`".join(parts)


def in_string(code):
    """True when `code` ends inside a string or character literal (a // there is not a comment)."""
    quotes = 0
    escaped = False
    for c in code:
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif c == '"':
            quotes += 1
    return quotes % 2 == 1 or code.count("'") % 2 == 1


INDENT = re.compile(r"^ *")
TYPE_HEAD = re.compile(r"^(?:struct|class|union|enum)\b")
ACCESS = re.compile(r"^(?:public|protected|private):")


def scope_after(body, top):
    """Tracks what the enclosing top-level block is, from the unindented code lines: comments in a
    namespace or in a class body document declarations; comments in a function body (also indented
    by 4 when the function is a free one) must stay plain, or Doxygen appends them to its docs."""
    if not body or body[0] in " \t/#" or ACCESS.match(body):
        return top
    if body.startswith("template"):
        return top if body.rstrip().endswith(">") else "other"  # the declaration follows
    if body.startswith("namespace") or body.startswith("}"):
        return "namespace"
    return "type" if TYPE_HEAD.match(body) else "other"


def before_namespace(lines, n):
    """True when the comment block holding line n is followed by a namespace: Doxygen would make it
    the namespace's description, which a remark about one file's contents is not."""
    for later in lines[n + 1:]:
        stripped = later.strip()
        if not stripped.startswith("//"):
            return stripped.startswith("namespace ")
    return False


def convert(lines):
    out = []
    header = True  # still inside the file's opening comment block
    header_last = -1
    top = "namespace"  # what the last unindented line opened: namespace, type or other (a function)
    for n, line in enumerate(lines):
        body = line.rstrip("\n")
        top = scope_after(body, top)
        member_level = top in ("namespace", "type")
        if header and body.startswith("//") and not body.startswith("///"):
            out.append("///" + escape_prose(body[2:]))
            header_last = n
            continue
        if header and header_last >= 0:
            out[header_last] += " \\file"
        header = False
        if REQUIRES_LINE.match(body) or BORROWED_RANGE.match(body):
            out.append("")
            continue
        m = WHOLE_LINE.match(body)
        if m and (m.group(1) == "" or member_level) and not SEPARATOR.match(body) and not before_namespace(lines, n):
            out.append(m.group(1) + "///" + m.group(2) + escape_prose(m.group(3)))
            continue
        m = TRAILING.match(body)
        if (m and INDENT.match(body).group(0) in ("", "    ") and (INDENT.match(body).group(0) == "" or member_level)
                and not in_string(m.group(1)) and "//" not in m.group(1)):
            out.append(m.group(1) + m.group(2) + "///<" + m.group(3) + escape_prose(m.group(4)))
            continue
        out.append(body)
    if header and header_last >= 0:
        out[header_last] += " \\file"
    return out


def filtered(path):
    with open(path, encoding="utf-8") as f:
        return "\n".join(convert(f.readlines())) + "\n"


def main():
    # doxygen-filter.py FILE: print the filtered FILE. doxygen-filter.py --tree SRC OUT: write the
    # filtered copy of every .hpp under SRC to the same path under OUT, in one process (scripts/docs;
    # docs/doxygen-filter.sh then hands Doxygen those copies, which spares a Python start per header).
    if sys.argv[1] == "--tree":
        src, out = pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
        for path in sorted(src.rglob("*.hpp")):
            target = out / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(filtered(path), encoding="utf-8")
    else:
        sys.stdout.write(filtered(sys.argv[1]))


if __name__ == "__main__":
    main()
