#!/usr/bin/env bash
# Resumable driver for this data set: runs `committor-keras md run` in chunks of CHUNK_MINUTES, each
# resuming from the files on disk, and packages a snapshot (.npz + README.md, finish.sh) after every chunk,
# until every shot is done. Kill it at any moment; start it again (from the repository root) to go on:
#   nohup bash data/alanine_dipeptide_water/run.sh > /dev/null 2>&1 &
# Progress: data/alanine_dipeptide_water/run.log, or `python -m committor_keras.md status data/alanine_dipeptide_water`.
set -u
cd "$(dirname "$0")/../.."
WORKDIR=data/alanine_dipeptide_water
PYTHON=${PYTHON:-.venv/bin/python}
WORKERS=${WORKERS:-2}
CHUNK_MINUTES=${CHUNK_MINUTES:-25}
exec 9< "$WORKDIR/run.sh"
if ! flock -n 9; then
    echo "another driver is already running for $WORKDIR" >&2
    exit 1
fi
failures=0
while true; do
    # a chunk started by an earlier driver holds this lock until it ends: wait for it
    [ -f "$WORKDIR/shots/shots.jsonl" ] && flock "$WORKDIR/shots/shots.jsonl" true
    nice -n "${NICE:-5}" "$PYTHON" -m committor_keras.md run "$WORKDIR" --workers "$WORKERS" \
        --max-minutes "$CHUNK_MINUTES" --no-progress >> "$WORKDIR/driver.out" 2>&1
    rc=$?
    nice -n "${NICE:-5}" bash "$WORKDIR/finish.sh" >> "$WORKDIR/driver.out" 2>&1 \
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
