#!/usr/bin/env bash
# Runs every test project and ends with one plain line "N passed, N failed" summed over all results.
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
# - one test (with its class's image build and boots) running longer than $EDGEIMAGE_TEST_HANG is
#   killed by vstest's blame collector and reported as failed, by name;
# - once a project's run has written its results file, it has $EDGEIMAGE_TEST_EXIT_GRACE seconds to
#   exit. A process left behind holding the test host's output keeps vstest waiting for end of
#   file; what is still running is listed and stopped, and the run counts as failed.
hang=${EDGEIMAGE_TEST_HANG:-30m}
grace=${EDGEIMAGE_TEST_EXIT_GRACE:-180}

# Each test project's built assembly runs in a vstest of its own, the projects side by side. Not
# `dotnet test EdgeImage.sln`: its MSBuild task waits for the end of vstest's output, which any
# process that inherited it can hold open after the run is over.
# Every assembly is checked before any run starts: a missing one must not leave the others running.
projects=$(grep -l 'Microsoft.NET.Test.Sdk' tests/*/*.csproj | sort)
for csproj in $projects; do
  name=$(basename "$csproj" .csproj)
  dll=$(dirname "$csproj")/bin/$config/net10.0/$name.dll
  if [ ! -f "$dll" ]; then
    echo "error: $dll is missing" >&2
    echo "hint: build the solution first: make build CONFIG=$config" >&2
    rm -rf "$results"
    exit 2
  fi
done
names=() pids=()
trap 'for pid in "${pids[@]}"; do kill -TERM -- -"$pid" 2>/dev/null; done; rm -rf "$results"' EXIT
trap 'exit 130' INT TERM
for csproj in $projects; do
  name=$(basename "$csproj" .csproj)
  dll=$(dirname "$csproj")/bin/$config/net10.0/$name.dll
  mkdir -p "$results/$name"
  # A session of its own, so its whole tree (vstest, test host, the tools they start) can be stopped at once.
  setsid dotnet test "$dll" ${filter:+--filter "$filter"} \
    --blame-hang-timeout "$hang" --blame-hang-dump-type none \
    --logger "trx" --results-directory "$results/$name" --logger "console;verbosity=normal" &
  names+=("$name") pids+=($!)
done

status=0
for i in "${!pids[@]}"; do
  pid=${pids[$i]} name=${names[$i]} written=""
  while kill -0 "$pid" 2>/dev/null; do
    sleep 5
    compgen -G "$results/$name/*.trx" >/dev/null || continue
    written=${written:-$SECONDS}
    if [ $((SECONDS - written)) -ge "$grace" ]; then
      echo "error: $name wrote its results, but its test run did not exit within ${grace} s; what was still running:" >&2
      ps -o pid,ppid,etime,args -s "$pid" --forest | cut -c1-160 >&2
      kill -TERM -- -"$pid" 2>/dev/null
      status=1
      break
    fi
  done
  wait "$pid" 2>/dev/null || status=1
done

passed=0 failed=0
for trx in "$results"/*/*.trx; do
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
