#!/usr/bin/env bash
# Resumable driver for this data set: data/tools/run_chunks.sh runs `committor-keras md run` in chunks, each
# resuming from the files on disk, and packages a snapshot (finish.sh: .npz files, figure, README.md) after
# every chunk, until every shot is done. Kill it at any moment; start it again (from the repository root):
#   setsid nohup env WORKERS=2 NICE=10 CODE=/work/mdcode bash data/alanine_dipeptide_water_channels/run.sh > /dev/null 2>&1 &
# (CODE, PYTHON, NICE, AUTOGROUP_NICE, CHUNK_MINUTES: see run_chunks.sh.)
cd "$(dirname "$0")/../.." && exec bash data/tools/run_chunks.sh data/alanine_dipeptide_water_channels
