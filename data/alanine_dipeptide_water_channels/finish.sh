#!/usr/bin/env bash
# Package this data set from whatever shots exist (safe to run at any time): this directory's .npz (with
# channel labels), the combined .npz with the shipped water set, the p_B figure and README.md.
set -eu
cd "$(dirname "$0")/../.."
WORKDIR=data/alanine_dipeptide_water_channels
PYTHON=${PYTHON:-.venv/bin/python}
if [ -n "${CODE:-}" ]; then
    # PYTHONSAFEPATH: `python -m` would otherwise put the working directory (this checkout) first on sys.path
    export PYTHONPATH=$CODE PYTHONSAFEPATH=1
fi
# before the first shots make-dataset has nothing to write: package.py then reports the status alone
"$PYTHON" -m committor_keras.md make-dataset "$WORKDIR" --out "$WORKDIR/alanine_dipeptide_water_channels.npz" \
    || echo "make-dataset wrote nothing (no shot configurations yet?)"
"$PYTHON" "$WORKDIR/package.py"
notes=$(mktemp)
trap 'rm -f "$notes"' EXIT
cat "$WORKDIR/NOTES.md" "$WORKDIR/channels.md" > "$notes"
"$PYTHON" -m committor_keras.md readme "$WORKDIR" \
    --title "Alanine dipeptide in TIP3P water, every crossing channel: committor shooting data" \
    --notes "$notes" \
    --command "python -m committor_keras.md init $WORKDIR --preset water --seed 2025 --set 'windows=...'   # exactly md.json (see NOTES)" \
    --command "cp data/alanine_dipeptide_water/{system.pdb,build.json} $WORKDIR/   # same equilibrated box: build is skipped" \
    --command "setsid nohup env WORKERS=1 NICE=10 CODE=/work/mdcode bash $WORKDIR/run.sh > /dev/null 2>&1 &   # chunks of: python -m committor_keras.md run $WORKDIR --workers 1 --max-minutes 30 --no-progress" \
    --command "bash $WORKDIR/finish.sh   # make-dataset, package.py (channels, combined set, figure), this README"
