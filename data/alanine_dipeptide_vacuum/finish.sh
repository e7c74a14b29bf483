#!/usr/bin/env bash
# Package this data set from whatever shots exist: the .npz and README.md (safe to run at any time).
set -eu
cd "$(dirname "$0")/../.."
WORKDIR=data/alanine_dipeptide_vacuum
PYTHON=${PYTHON:-.venv/bin/python}
"$PYTHON" -m committor_keras.md make-dataset "$WORKDIR" --out "$WORKDIR/alanine_dipeptide_vacuum.npz"
"$PYTHON" -m committor_keras.md readme "$WORKDIR" --title "Alanine dipeptide in vacuum (C7eq -> C7ax): committor shooting data" \
    --notes "$WORKDIR/NOTES.md" \
    --command "python -m committor_keras.md init $WORKDIR --preset vacuum --seed 2024" \
    --command "nice -n 10 python -m committor_keras.md run $WORKDIR --workers 1 --no-progress" \
    --command "bash $WORKDIR/finish.sh   # make-dataset --out $WORKDIR/alanine_dipeptide_vacuum.npz, then this README"
