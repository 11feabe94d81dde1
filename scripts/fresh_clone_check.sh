#!/usr/bin/env bash
# The README's test command on a fresh clone in a fresh venv, N times in a row, each run timed.
#
#   scripts/fresh_clone_check.sh [-n RUNS] [--limit-s S] [--repo DIR] [--rev REV] [--shared DIR]
#                                [--train] [--keep]
#
# What it does, in a new temporary folder W (under $TMPDIR):
#   1. git clone REPO (default: the repository this script is in; what is COMMITTED at REV,
#      default HEAD, never the work tree) into W/tinyconv, and W/shared -> SHARED (default
#      REPO/../shared): CI's layout, the datasets in ../shared/data beside the clone;
#      `--shared none`: no ../shared at all, a newcomer's clone (the tests of real datasets skip);
#   2. python3 -m venv W/venv, and in it the README's commands exactly as written, read from the
#      clone's README.md: the CPU torch line (`pip install torch==... --index-url .../whl/cpu`),
#      then the install half of the test command (`pip install -e ".[test]"`);
#   3. the test half of the test command (`python3 -m pytest -q`, or with PYTEST_ARGS appended,
#      e.g. PYTEST_ARGS='-m "not slow"' for a shorter look) RUNS times, each with CI=true,
#      timed, its summary line and the load (uptime) before and after kept;
#   4. with --train, the README's first command too (`pip install -e ".[all]" && tinyconv train`),
#      timed, in the clone: no $TINYCONV_DATA and an empty user cache, so it trains on the
#      embedded MNIST sample offline, as a newcomer's first run does.
# The runs see a clean environment: the machine's, less this project's variables (PYTHONPATH,
# TINYCONV_*, MPLBACKEND, NUMBA_*, VIRTUAL_ENV), with XDG_CACHE_HOME in W: an empty user cache
# (no downloaded datasets, no Numba cache, no pip cache from earlier runs). HOME stays, and with
# it pip's configuration (which index and local wheel folders pip reads on this machine).
# Exit status 0 when every run passed within --limit-s (default 900 s; 0: no limit); W is removed
# then unless --keep, and kept (with its logs, W/logs/) otherwise.
# Chromium (chromium-headless-shell or chromium) must be installed: the browser tests need it.
set -euo pipefail

# All of it in one function, parsed before it runs: a checkout updated while the runs go on
# (a landing on main) must not change the script under bash's feet.
main() {

RUNS=3
LIMIT_S=900
REPO="$(cd "$(dirname "$0")/.." && pwd)"
REV=HEAD
SHARED=""
TRAIN=0
KEEP=0
while [ $# -gt 0 ]; do
    case "$1" in
        -n) RUNS="$2"; shift 2 ;;
        --limit-s) LIMIT_S="$2"; shift 2 ;;
        --repo) REPO="$(cd "$2" && pwd)"; shift 2 ;;
        --rev) REV="$2"; shift 2 ;;
        --shared) SHARED="$([ "$2" = none ] && echo none || (cd "$2" && pwd))"; shift 2 ;;
        --train) TRAIN=1; shift ;;
        --keep) KEEP=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "fresh_clone_check: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
SHARED="${SHARED:-$(cd "$REPO/.." && pwd)/shared}"
if [ "$SHARED" != none ] && [ ! -d "$SHARED/data" ]; then
    echo "fresh_clone_check: no datasets in $SHARED/data (give --shared DIR)" >&2
    exit 2
fi
if ! command -v chromium-headless-shell >/dev/null && ! command -v chromium >/dev/null; then
    echo "fresh_clone_check: the browser tests need Chromium: apt-get install chromium-headless-shell" >&2
    exit 2
fi

W="$(mktemp -d "${TMPDIR:-/tmp}/tinyconv-fresh.XXXXXX")"
mkdir -p "$W/logs" "$W/cache"
SUMMARY="$W/logs/summary.txt"
say() { echo "$*" | tee -a "$SUMMARY"; }

git clone -q "$REPO" "$W/tinyconv"
git -C "$W/tinyconv" checkout -q --detach "$(git -C "$REPO" rev-parse "$REV")"
[ "$SHARED" = none ] || ln -s "$SHARED" "$W/shared"
say "fresh_clone_check: $(git -C "$W/tinyconv" log -1 --format='%h %s' | cut -c1-100)"
say "  clone $W/tinyconv, ../shared -> $SHARED, $(nproc) cores, $(python3 --version)"

# The README's commands, as written there (a changed README changes what is checked).
README="$W/tinyconv/README.md"
TORCH_CMD="$(grep -m1 -E '^python3 -m pip install torch==' "$README" || true)"
TEST_CMD="$(grep -m1 -E '^python3 -m pip install -e "\.\[test\]" && ' "$README" || true)"
TRAIN_CMD="$(grep -m1 -E '^python3 -m pip install -e "\.\[all\]" && ' "$README" || true)"
if [ -z "$TORCH_CMD" ] || [ -z "$TEST_CMD" ] || [ -z "$TRAIN_CMD" ]; then
    echo "fresh_clone_check: README.md no longer has the torch, test or train command lines" >&2
    exit 2
fi
INSTALL_CMD="${TEST_CMD%% && *}"
PYTEST_CMD="${TEST_CMD#* && }${PYTEST_ARGS:+ $PYTEST_ARGS}"

# A clean environment: the machine's, less this project's and the session's variables.
unset PYTHONPATH PYTHONHOME VIRTUAL_ENV MPLBACKEND PYTEST_ADDOPTS
for v in $(compgen -e); do
    case "$v" in TINYCONV_*|NUMBA_*) unset "$v" ;; esac
done
export XDG_CACHE_HOME="$W/cache" CI=true
python3 -m venv "$W/venv"
export PATH="$W/venv/bin:$PATH" VIRTUAL_ENV="$W/venv"
cd "$W/tinyconv"

start=$SECONDS
say "== install: $TORCH_CMD"
bash -c "$TORCH_CMD" >"$W/logs/install.log" 2>&1 || { say "torch install FAILED (log $W/logs/install.log)"; exit 1; }
say "== install: $INSTALL_CMD"
bash -c "$INSTALL_CMD" >>"$W/logs/install.log" 2>&1 || { say "install FAILED (log $W/logs/install.log)"; exit 1; }
say "   $((SECONDS - start)) s; torch $(python3 -c 'import torch; print(torch.__version__)')," \
    "numba $(python3 -c 'import numba; print(numba.__version__)')"

passed=0
failed=0
for i in $(seq 1 "$RUNS"); do
    load_before="$(uptime | sed 's/.*load average: //')"
    start=$SECONDS
    if bash -c "$PYTEST_CMD" >"$W/logs/run-$i.log" 2>&1; then rc=0; else rc=$?; fi
    took=$((SECONDS - start))
    load_after="$(uptime | sed 's/.*load average: //')"
    verdict=passed
    if [ "$rc" != 0 ]; then
        verdict="FAILED (exit $rc)"
    elif [ "$LIMIT_S" != 0 ] && [ "$took" -gt "$LIMIT_S" ]; then
        verdict="passed but OVER ${LIMIT_S} s"
    fi
    if [ "$verdict" = passed ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
    say "== run $i/$RUNS: CI=true $PYTEST_CMD: $verdict in ${took} s ($((took / 60)) min $((took % 60)) s)"
    say "   $(grep -E '^(=+ )?[0-9]+ (passed|failed|errors?|skipped)' "$W/logs/run-$i.log" | tail -n 1 | tr -d '=' | sed 's/^ *//')"
    say "   load before $load_before, after $load_after"
    grep -E '^(FAILED|ERROR) ' "$W/logs/run-$i.log" | head -n 20 | sed 's/^/   /' | tee -a "$SUMMARY" || true
done

if [ "$TRAIN" = 1 ]; then
    start=$SECONDS
    if bash -c "$TRAIN_CMD" >"$W/logs/train.log" 2>&1; then rc=0; else rc=$?; fi
    took=$((SECONDS - start))
    if [ "$rc" = 0 ]; then
        say "== $TRAIN_CMD: passed in ${took} s"
        passed=$((passed + 1))
    else
        say "== $TRAIN_CMD: FAILED (exit $rc) in ${took} s"
        failed=$((failed + 1))
    fi
    tail -n 3 "$W/logs/train.log" | sed 's/^/   /' | tee -a "$SUMMARY"
fi

say "fresh_clone_check: $passed passed, $failed failed"
if [ "$failed" = 0 ] && [ "$KEEP" = 0 ]; then
    rm -rf "$W"
else
    echo "logs kept in $W/logs" >&2
fi
[ "$failed" = 0 ]
}

main "$@"
