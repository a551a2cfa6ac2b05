#!/usr/bin/env bash
# The body of `make test`: the unit tests, then the e2e tests one file at a time (a run of their own, with
# --no-file-parallelism, so that two files never boot VMs at once), then tmp/test-report.json and the closing line
# "tests: N passed, N failed, N skipped". Exits non-zero when anything failed (see scripts/test-summary.mjs).
# Arguments: the projects to run (default: unit e2e), then optionally -- and vitest file filters.
set -uo pipefail
# shellcheck disable=SC2164 # the repository root, which holds this script: cd cannot fail
cd "$(dirname "$0")/.."
mkdir -p tmp
# Stale reports must never be summarised as this run's.
rm -f tmp/test-report.json tmp/test-report-*.json tmp/vitest.json tmp/boots.jsonl
export FCOS_BOOT_LOG="$PWD/tmp/boots.jsonl"
# Arguments after `--` go to every vitest run (test files, for example).
projects=()
files=()
while (($#)); do
  if [ "$1" = -- ]; then shift; files=("$@"); break; fi
  projects+=("$1")
  shift
done
((${#projects[@]})) || projects=(unit e2e)
parts=()
for p in "${projects[@]}"; do
  # unit: two workers (vitest's default on a 2-core machine is cores - 1 = one, so the unit files ran one after the
  # other); e2e: one file at a time.
  extra=("--maxWorkers=$(( $(nproc) > 2 ? $(nproc) : 2 ))")
  [ "$p" = e2e ] && extra=(--no-file-parallelism)
  FCOS_REPORT_PART="tmp/test-report-$p.json" npx vitest run --project "$p" "${extra[@]}" "${files[@]}" \
    --reporter=default --reporter=./scripts/vitest-report.mjs
  parts+=("$p=tmp/test-report-$p.json:$?")
done
node scripts/test-summary.mjs tmp/test-report.json "${parts[@]}"
