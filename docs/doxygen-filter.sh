#!/bin/sh
# Doxygen's input filter for the headers (docs/Doxyfile, FILTER_PATTERNS): prints the copy of header
# $1 that scripts/docs wrote with docs/doxygen-filter.py --tree, or filters $1 now when there is none.
copy="build/docs/filtered/${1#"$(pwd)"/}"
if [ -f "$copy" ]; then exec cat "$copy"; fi
exec python3 docs/doxygen-filter.py "$1"
