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

# No test reads the terminal: a tool that asks a question gets end-of-file, not a CI runner's
# stdin that never closes.
exec </dev/null

# Bounds, so that a hang ends as a named failure instead of a CI job that runs out of time:
# - one test (with its class's image build and boots) longer than $EDGEIMAGE_TEST_HANG is killed by
#   vstest's blame collector and reported as failed, by name;
# - once every test project has written its results file, `dotnet test` has
#   $EDGEIMAGE_TEST_EXIT_GRACE seconds to exit. A process left behind that still holds the test
#   host's output pipe keeps vstest waiting for end-of-file; the processes are listed, stopped,
#   and the run counts as failed.
hang=${EDGEIMAGE_TEST_HANG:-30m}
grace=${EDGEIMAGE_TEST_EXIT_GRACE:-180}
projects=$(grep -l 'Microsoft.NET.Test.Sdk' tests/*/*.csproj | wc -l)

# Its own session, so the whole tree (MSBuild, vstest, test hosts, the tools they start) can be
# stopped at once.
setsid dotnet test EdgeImage.sln -c "$config" --no-build ${filter:+--filter "$filter"} \
  --blame-hang-timeout "$hang" --blame-hang-dump-type none \
  --logger "trx" --results-directory "$results" --logger "console;verbosity=normal" &
run=$!
trap 'kill -TERM -- -$run 2>/dev/null; rm -rf "$results"' EXIT
trap 'exit 130' INT TERM

status=0
complete_since=""
while kill -0 "$run" 2>/dev/null; do
  sleep 5
  written=$(find "$results" -maxdepth 1 -name '*.trx' | wc -l)
  if [ "$written" -lt "$projects" ]; then
    continue
  fi
  complete_since=${complete_since:-$SECONDS}
  if [ $((SECONDS - complete_since)) -ge "$grace" ]; then
    echo "error: every test project wrote its results, but dotnet test did not exit within ${grace} s; what was still running:" >&2
    ps -o pid,ppid,etime,args -s "$run" --forest | cut -c1-160 >&2
    kill -TERM -- -"$run" 2>/dev/null
    status=1
    break
  fi
done
wait "$run" 2>/dev/null
exited=$?
[ "$status" -ne 0 ] || status=$exited

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
