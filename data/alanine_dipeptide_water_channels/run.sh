#!/usr/bin/env bash
# Resumable driver for this data set: runs `committor-keras md run` in chunks of CHUNK_MINUTES, each
# resuming from the files on disk, and packages a snapshot (finish.sh: .npz files, figure, README.md) after
# every chunk, until every shot is done. Kill it at any moment; start it again (from the repository root):
#   setsid nohup env WORKERS=1 NICE=10 bash data/alanine_dipeptide_water_channels/run.sh > /dev/null 2>&1 &
# CODE=DIR runs a frozen copy of the package (DIR/committor_keras, e.g. `cp -r committor_keras /work/mdcode/`),
# so edits to the working tree do not change a running job; PYTHON is the interpreter (default .venv/bin/python).
# Progress: data/alanine_dipeptide_water_channels/run.log, or
#   python -m committor_keras.md status data/alanine_dipeptide_water_channels
set -u
cd "$(dirname "$0")/../.."
WORKDIR=data/alanine_dipeptide_water_channels
PYTHON=${PYTHON:-.venv/bin/python}
WORKERS=${WORKERS:-1}
CHUNK_MINUTES=${CHUNK_MINUTES:-30}
if [ -n "${CODE:-}" ]; then
    # PYTHONSAFEPATH: `python -m` would otherwise put the working directory (this checkout) first on sys.path
    export PYTHONPATH=$CODE PYTHONSAFEPATH=1
fi
exec 9< "$WORKDIR/run.sh"
if ! flock -n 9; then
    echo "another driver is already running for $WORKDIR" >&2
    exit 1
fi
echo "$(date -u +%FT%TZ) driver: pid $$, workers $WORKERS, nice ${NICE:-10}, code ${CODE:-working tree}" >> "$WORKDIR/run.log"
failures=0
while true; do
    # a chunk started by an earlier driver holds this lock until it ends: wait for it
    [ -f "$WORKDIR/shots/shots.jsonl" ] && flock "$WORKDIR/shots/shots.jsonl" true
    nice -n "${NICE:-10}" "$PYTHON" -m committor_keras.md run "$WORKDIR" --workers "$WORKERS" \
        --max-minutes "$CHUNK_MINUTES" --no-progress >> "$WORKDIR/driver.out" 2>&1
    rc=$?
    nice -n "${NICE:-10}" bash "$WORKDIR/finish.sh" >> "$WORKDIR/driver.out" 2>&1 \
        || echo "$(date -u +%FT%TZ) driver: packaging a snapshot failed (see driver.out)" >> "$WORKDIR/run.log"
    if [ "$rc" -eq 0 ]; then
        echo "$(date -u +%FT%TZ) driver: all shots done" >> "$WORKDIR/run.log"
        break
    elif [ "$rc" -eq 3 ]; then
        failures=0
    else
        failures=$((failures + 1))
        echo "$(date -u +%FT%TZ) driver: chunk exited with $rc (failure $failures of 5)" >> "$WORKDIR/run.log"
        [ "$failures" -ge 5 ] && exit "$rc"
        sleep 30
    fi
done
