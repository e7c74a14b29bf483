#!/usr/bin/env bash
# Package this data set from whatever shots exist (safe to run at any time): this directory's .npz (with
# channel labels), the combined .npz in data/alanine_dipeptide_water_channels/ (this directory is its part 2),
# the p_B figure, channels.md and README.md; data/tools/finish_water_channels.sh does it.
set -eu
cd "$(dirname "$0")/../.."
WORKDIR=data/alanine_dipeptide_water_bridge
exec bash data/tools/finish_water_channels.sh "$WORKDIR" \
    "Alanine dipeptide in TIP3P water, the bridge channel (psi -30..90): committor shooting data" \
    "python -m committor_keras.md init $WORKDIR --preset water --seed 2026 --set 'system=\"alanine_dipeptide_water_bridge\"' --set 'windows=...'   # exactly md.json (see NOTES)" \
    "cp data/alanine_dipeptide_water/{system.pdb,build.json} $WORKDIR/   # same equilibrated box: build is skipped" \
    "mkdir -p /work/mdcode2 && git archive 7394a41 committor_keras | tar -x -C /work/mdcode2   # frozen code copy" \
    "setsid nohup env WORKERS=1 NICE=15 AUTOGROUP_NICE=5 CODE=/work/mdcode2 bash data/tools/run_chunks.sh $WORKDIR > /dev/null 2>&1 &   # chunks of: python -m committor_keras.md run $WORKDIR --workers 1 --max-minutes 30 --no-progress" \
    "bash $WORKDIR/finish.sh   # make-dataset, channels package.py (channels, combined set, figure), this README"
