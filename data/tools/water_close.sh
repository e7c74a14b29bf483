#!/usr/bin/env bash
# The water channels' closing steps (issue #9 items 2 and 3), once both work directories have finished
# shooting (their drivers logged "all shots ... done" and packaged the combined set):
#   1. transfer across channels: data/tools/water_transfer.py -> docs/results/water_transfer/
#   2. a model of the combined set: `committor-keras tune` (default configuration, seed 0) -> RUNS/water-all
#   3. its committor test on data/alanine_dipeptide_water_committor_test (every channel's windows)
#      -> RUNS/ct-water
#   4. the test read per channel: data/tools/water_committor_test.py -> docs/results/committor_test_water/
# Every step resumes or skips what is done, so run it again after an interruption. From the repository root:
#   setsid nohup bash data/tools/water_close.sh > runs/water_close.log 2>&1 &
# PYTHON is the interpreter (default .venv/bin/python); RUNS the folder of the run directories (default runs);
# RESULTS the folder of the committed results (default docs/results). For a smoke run on a partial snapshot
# (numbers not results; keep it out of the repository):
#   PARTIAL=1 RUNS=/tmp/wc RESULTS=/tmp/wc/results TUNE_ARGS="--config configs/demo.toml" \
#   TRANSFER_ARGS="--seeds 0 --epochs 5" CT_ARGS="--n 2 --shots 4 --per-window 2" bash data/tools/water_close.sh
set -eu
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-.venv/bin/python}
CLI=$(dirname "$PYTHON")/committor-keras
RUNS=${RUNS:-runs}
RESULTS=${RESULTS:-docs/results}
ALL=data/alanine_dipeptide_water_channels/alanine_dipeptide_water_all_channels.npz
stamp() { echo "$(date -u +%FT%TZ) water_close: $*"; }

if [ -z "${PARTIAL:-}" ]; then
    for workdir in data/alanine_dipeptide_water_channels data/alanine_dipeptide_water_bridge; do
        if ! grep -q "driver: all shots.* done" "$workdir/run.log"; then
            echo "$workdir: its driver has not finished shooting (run.log); wait for it, or set PARTIAL=1 for a smoke run" >&2
            exit 2
        fi
    done
fi
partial=()
[ -n "${PARTIAL:-}" ] && partial=(--partial)

if [ -f "$RESULTS/water_transfer/transfer.csv" ]; then
    stamp "transfer: done before ($RESULTS/water_transfer)"
else
    stamp "transfer"
    # shellcheck disable=SC2086
    "$PYTHON" data/tools/water_transfer.py --out "$RESULTS/water_transfer" ${TRANSFER_ARGS:-} "${partial[@]}"
fi
stamp "tune $ALL -> $RUNS/water-all"
# shellcheck disable=SC2086
"$CLI" tune "$ALL" --out "$RUNS/water-all" --seed 0 --quiet ${TUNE_ARGS:-}
stamp "committor test of $RUNS/water-all/top/01 -> $RUNS/ct-water"
# shellcheck disable=SC2086
"$CLI" committor-test "$RUNS/water-all/top/01" --md data/alanine_dipeptide_water_committor_test --n 100 \
    --shots 50 --workers 2 --out "$RUNS/ct-water" --seed 0 --no-progress ${CT_ARGS:-}
stamp "per channel -> $RESULTS/committor_test_water"
"$PYTHON" data/tools/water_committor_test.py "$RUNS/ct-water" --out "$RESULTS/committor_test_water"
stamp "done"
