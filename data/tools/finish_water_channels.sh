#!/usr/bin/env bash
# Package a water-channels work directory from whatever shots exist (safe to run at any time, also while its
# driver shoots): WORKDIR/<system>.npz (md make-dataset; <system> from md.json), then
# data/alanine_dipeptide_water_channels/package.py WORKDIR (channel labels, the combined set
# alanine_dipeptide_water_all_channels.npz with every part present, the p_B figure, WORKDIR/channels.md), then
# WORKDIR/README.md (md readme, with WORKDIR/NOTES.md and channels.md as its notes).
# Usage, from anywhere (each work directory's finish.sh calls it with its own title and commands):
#   bash data/tools/finish_water_channels.sh WORKDIR TITLE [COMMAND ...]
# COMMANDs are the README's "How it was made" lines. CODE=DIR runs a frozen copy of the package
# (DIR/committor_keras); PYTHON is the interpreter (default .venv/bin/python).
set -eu
[ $# -ge 2 ] || { echo "usage: $0 WORKDIR TITLE [COMMAND ...]" >&2; exit 2; }
cd "$(dirname "$0")/../.."
WORKDIR=${1%/}
TITLE=$2
shift 2
PYTHON=${PYTHON:-.venv/bin/python}
if [ -n "${CODE:-}" ]; then
    # PYTHONSAFEPATH: `python -m` would otherwise put the working directory (this checkout) first on sys.path
    export PYTHONPATH=$CODE PYTHONSAFEPATH=1
fi
SYSTEM=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["system"])' "$WORKDIR/md.json")
# before the first shots make-dataset has nothing to write: package.py then reports the progress alone
"$PYTHON" -m committor_keras.md make-dataset "$WORKDIR" --out "$WORKDIR/$SYSTEM.npz" \
    || echo "make-dataset wrote nothing (no shot configurations yet?)"
"$PYTHON" data/alanine_dipeptide_water_channels/package.py "$WORKDIR"
notes=$(mktemp)
trap 'rm -f "$notes"' EXIT
cat "$WORKDIR/NOTES.md" "$WORKDIR/channels.md" > "$notes"
commands=()
for command in "$@"; do
    commands+=(--command "$command")
done
"$PYTHON" -m committor_keras.md readme "$WORKDIR" --title "$TITLE" --notes "$notes" "${commands[@]}"
