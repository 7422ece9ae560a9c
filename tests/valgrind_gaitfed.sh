#!/bin/sh
# GF_BIN for `make test-valgrind`: runs the real gaitfed (GF_VALGRIND_BIN,
# default bin/gaitfed) under valgrind memcheck, and every gaitfed process it
# starts too (the demo and `bench federation` start the coordinator and the
# nodes by executing their own binary: --trace-children; they exec the path
# /proc/self/exe points to, since exec of /proc/self/exe itself would start
# valgrind's tool binary). A memory error or a definite
# leak makes that process exit 97, so the test driving it fails. One log per
# process: GF_VALGRIND_LOGS (default build/valgrind)/<pid>.log.
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${GF_VALGRIND_BIN:-$here/bin/gaitfed}
logs=${GF_VALGRIND_LOGS:-$here/build/valgrind}
mkdir -p "$logs"
# OpenBLAS's worker threads: set here, so main() does not re-execute itself.
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
exec valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
  --error-exitcode=97 --trace-children=yes --trace-children-skip='*/sh,*/bash,*/sqlite3,*/python3*,*/openssl' \
  --num-callers=30 --log-file="$logs/%p.log" "$bin" "$@"
