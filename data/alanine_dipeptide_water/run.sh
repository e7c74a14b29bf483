#!/usr/bin/env bash
# Resumable driver for this data set: data/tools/run_chunks.sh runs `committor-keras md run` in chunks of 25
# minutes with 2 workers at nice 5 (as this set was shot), each resuming from the files on disk, and packages a
# snapshot (.npz + README.md, finish.sh) after every chunk, until every shot is done. Kill it at any moment;
# start it again (from the repository root) to go on:
#   setsid nohup bash data/alanine_dipeptide_water/run.sh > /dev/null 2>&1 &
# (CODE, PYTHON, NICE, AUTOGROUP_NICE, CHUNK_MINUTES, WORKERS: see run_chunks.sh.)
export WORKERS=${WORKERS:-2} NICE=${NICE:-5} CHUNK_MINUTES=${CHUNK_MINUTES:-25}
cd "$(dirname "$0")/../.." && exec bash data/tools/run_chunks.sh data/alanine_dipeptide_water
