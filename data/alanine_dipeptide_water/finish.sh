#!/usr/bin/env bash
# Package this data set from whatever shots exist: the .npz and README.md (safe to run at any time).
set -eu
cd "$(dirname "$0")/../.."
WORKDIR=data/alanine_dipeptide_water
PYTHON=${PYTHON:-.venv/bin/python}
"$PYTHON" -m committor_keras.md make-dataset "$WORKDIR" --out "$WORKDIR/alanine_dipeptide_water.npz"
"$PYTHON" -m committor_keras.md readme "$WORKDIR" --title "Alanine dipeptide in TIP3P water: committor shooting data" \
    --notes "$WORKDIR/NOTES.md" \
    --command "python -m committor_keras.md init $WORKDIR --preset water --seed 2024" \
    --command "nohup bash $WORKDIR/run.sh > /dev/null 2>&1 &   # chunks of: nice -n 5 python -m committor_keras.md run $WORKDIR --workers 2 --max-minutes 25 --no-progress" \
    --command "bash $WORKDIR/finish.sh   # make-dataset --out $WORKDIR/alanine_dipeptide_water.npz, then this README"
