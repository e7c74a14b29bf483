#!/usr/bin/env bash
# Package this data set from whatever shots exist (safe to run at any time): this directory's .npz (with
# channel labels), the combined .npz with the shipped water set (and the bridge directory's part once shot),
# the p_B figure, channels.md and README.md; data/tools/finish_water_channels.sh does it.
set -eu
cd "$(dirname "$0")/../.."
WORKDIR=data/alanine_dipeptide_water_channels
exec bash data/tools/finish_water_channels.sh "$WORKDIR" \
    "Alanine dipeptide in TIP3P water, every crossing channel: committor shooting data" \
    "python -m committor_keras.md init $WORKDIR --preset water --seed 2025 --set 'windows=...'   # exactly md.json (see NOTES)" \
    "cp data/alanine_dipeptide_water/{system.pdb,build.json} $WORKDIR/   # same equilibrated box: build is skipped" \
    "setsid nohup env WORKERS=2 NICE=10 CODE=/work/mdcode bash $WORKDIR/run.sh > /dev/null 2>&1 &   # chunks of: python -m committor_keras.md run $WORKDIR --workers 2 --max-minutes 30 --no-progress" \
    "bash $WORKDIR/finish.sh   # make-dataset, package.py (channels, combined set, figure), this README"
