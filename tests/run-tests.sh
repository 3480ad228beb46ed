#!/usr/bin/env bash
# Runs both test projects and ends with one plain line "N passed, N failed" summed over all results.
set -uo pipefail
config=${1:-Release}
# Test filter. By default everything but Category=bench (the measurements bench/run.sh takes; they
# are not tests of the suite): unit tests, the x86 and Arm board images and their QEMU boots, the
# U-Boot A/B fallback, the airgap registry and the first-boot joins. `make test-boards` runs only
# the Arm board boots (Suite=boards).
filter=${2:-Category!=bench}
cd "$(dirname "$0")/.."
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

status=0
dotnet test EdgeImage.sln -c "$config" --no-build ${filter:+--filter "$filter"} --logger "trx" --results-directory "$results" \
  --logger "console;verbosity=normal" || status=$?

passed=0 failed=0
for trx in "$results"/*.trx; do
  [ -e "$trx" ] || continue
  passed=$((passed + $(grep -o '<UnitTestResult [^>]*outcome="Passed"' "$trx" | wc -l)))
  failed=$((failed + $(grep -o '<UnitTestResult [^>]*outcome="Failed"' "$trx" | wc -l)))
done
if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
  echo "no test results were written" >&2
  status=1
fi
echo "$passed passed, $failed failed"
exit $status
