#!/bin/sh
# Rebuilds the Emscripten benchmark programs of `agentsync bench` (the em_* scenarios) from
# their C sources, twice each: NAME_web.js (-sENVIRONMENT=web,worker, run by `agentsync js`)
# and NAME_node.js (-sENVIRONMENT=node, run by Node.js), with the same flags otherwise: -O2,
# -pthread, a pool of 4 pthread workers, -sEXIT_RUNTIME, 128 MiB of memory.
#
# Needs Debian's emscripten 3.1.6 (`apt-get install emscripten`); its optimizer wants
# NODE_PATH=/usr/share/nodejs. The outputs are committed: the bench needs no toolchain.
set -eu
cd "$(dirname "$0")"
export NODE_PATH="${NODE_PATH:-/usr/share/nodejs}"
FLAGS="-O2 -pthread -sEXIT_RUNTIME -sPTHREAD_POOL_SIZE=4 -sINITIAL_MEMORY=128MB"
for source in mutex.c condvar.c spawn.c sum.c startup.c; do
  name="${source%.c}"
  emcc $FLAGS -sENVIRONMENT=web,worker -o "${name}_web.js" "$source"
  emcc $FLAGS -sENVIRONMENT=node -o "${name}_node.js" "$source"
done
