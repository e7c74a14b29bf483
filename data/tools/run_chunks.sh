#!/usr/bin/env bash
# Resumable driver for a committor work directory: runs `committor-keras md run WORKDIR` in chunks of
# CHUNK_MINUTES, each resuming from the files on disk, and after every chunk packages a snapshot with
# WORKDIR/finish.sh (when it exists), until every shot is done. Kill it at any moment (kill -- -PID, PID in
# the last "driver: pid" line of WORKDIR/run.log: it leads its process group); start it again to go on.
# From the repository root:
#   setsid nohup env WORKERS=1 NICE=15 CODE=/work/mdcode2 bash data/tools/run_chunks.sh WORKDIR > /dev/null 2>&1 &
# CODE=DIR runs a frozen copy of the package (DIR/committor_keras, e.g. `git archive HEAD committor_keras | tar
# -x -C DIR`), so edits to the working tree do not change a running job; PYTHON is the interpreter (default
# .venv/bin/python); NICE the niceness (default 10). One driver per WORKDIR (a lock on the directory).
# WINDOWS=LIST (e.g. 0-12,19) shoots only those windows' configurations and FINISH_STARTED=1 only the top-ups
# of configurations already started (`md run --windows / --finish-started`); the driver then stops when that
# selection is done. SELECT_CMD='COMMAND' (run by bash from the repository root before every chunk, with
# PYTHON, WORKDIR and WINDOWS in its environment) prints the selection arguments instead, e.g. a stopping rule
# that narrows WINDOWS as counts grow; when it fails the driver keeps the last selection.
# Progress: WORKDIR/run.log, or `python -m committor_keras.md status WORKDIR`.
# (Each data set's run.sh is a call to this loop with its own defaults.)
set -u
[ $# -eq 1 ] || { echo "usage: $0 WORKDIR" >&2; exit 2; }
cd "$(dirname "$0")/../.."
WORKDIR=${1%/}
[ -f "$WORKDIR/md.json" ] || { echo "$WORKDIR/md.json: no such file (md init first)" >&2; exit 2; }
PYTHON=${PYTHON:-.venv/bin/python}
WORKERS=${WORKERS:-1}
NICE=${NICE:-10}
CHUNK_MINUTES=${CHUNK_MINUTES:-30}
export PYTHON WORKDIR WINDOWS=${WINDOWS:-}
select=()
[ -n "${WINDOWS:-}" ] && select+=(--windows "$WINDOWS")
[ -n "${FINISH_STARTED:-}" ] && select+=(--finish-started)
if [ -n "${CODE:-}" ]; then
    # PYTHONSAFEPATH: `python -m` would otherwise put the working directory (this checkout) first on sys.path
    export PYTHONPATH=$CODE PYTHONSAFEPATH=1
fi
exec 9< "$WORKDIR"
if ! flock -n 9; then
    echo "another driver is already running for $WORKDIR" >&2
    exit 1
fi
# With the kernel's autogroups (/proc/sys/kernel/sched_autogroup_enabled = 1) every session (setsid) shares
# the CPU equally whatever its processes' nice values, so `nice` alone ranks nothing against other jobs:
# a driver leading its own session gives its whole session (itself and its chunks) the niceness
# AUTOGROUP_NICE (default NICE) too.
AUTOGROUP_NICE=${AUTOGROUP_NICE:-$NICE}
if [ "$(ps -o sid= -p $$ | tr -d ' ')" = "$$" ] && [ -w /proc/self/autogroup ]; then
    echo "$AUTOGROUP_NICE" > /proc/self/autogroup 2>/dev/null || true
fi
echo "$(date -u +%FT%TZ) driver: pid $$, workers $WORKERS, nice $NICE ($(cat /proc/self/autogroup 2>/dev/null || echo no autogroup)), code ${CODE:-working tree}, selection ${select[*]:-none}" >> "$WORKDIR/run.log"
failures=0
while true; do
    if [ -n "${SELECT_CMD:-}" ]; then
        previous="${select[*]}"
        if chosen=$(nice -n "$NICE" bash -c "$SELECT_CMD" 2>> "$WORKDIR/driver.out"); then
            read -ra select <<< "$chosen"
            [ "${select[*]}" != "$previous" ] && echo "$(date -u +%FT%TZ) driver: selection ${select[*]:-none} (SELECT_CMD)" >> "$WORKDIR/run.log"
        else
            echo "$(date -u +%FT%TZ) driver: SELECT_CMD failed (see driver.out); keeping selection ${select[*]:-none}" >> "$WORKDIR/run.log"
        fi
    fi
    # a chunk started by an earlier driver holds this lock until it ends: wait for it
    [ -f "$WORKDIR/shots/shots.jsonl" ] && flock "$WORKDIR/shots/shots.jsonl" true
    nice -n "$NICE" "$PYTHON" -m committor_keras.md run "$WORKDIR" --workers "$WORKERS" \
        --max-minutes "$CHUNK_MINUTES" --no-progress "${select[@]}" >> "$WORKDIR/driver.out" 2>&1
    rc=$?
    if [ -f "$WORKDIR/finish.sh" ]; then
        nice -n "$NICE" bash "$WORKDIR/finish.sh" >> "$WORKDIR/driver.out" 2>&1 \
            || echo "$(date -u +%FT%TZ) driver: packaging a snapshot failed (see driver.out)" >> "$WORKDIR/run.log"
    fi
    if [ "$rc" -eq 0 ]; then
        echo "$(date -u +%FT%TZ) driver: all shots${select[*]:+ of the selection ${select[*]}} done" >> "$WORKDIR/run.log"
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
