#!/usr/bin/env bash
# End-to-end benchmark of EdgeImage against its peers, measured in one run on a warm cache.
#   bench/run.sh [CONFIG]        (make bench)
# Environment: PROFILE (default generic-x86_64), EDGEIMAGE_CACHE (default .cache/bench),
# BENCH_RUNS (measured rounds, default 3; times are the best round's, the build/squashfs ratio is the
# median of each round's own pair), BENCH_QEMU=0 skips the boots,
# BENCH_BOARDS (default "generic-aarch64 rpi-armv7 rpi4-aarch64"; empty skips the board table),
# BENCH_JOIN=0 skips the join measurement.
# Writes bench/results/latest.md and prints the summary table.
set -euo pipefail

CONFIG=${1:-Release}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PROFILE=${PROFILE:-generic-x86_64}
# The OS is measured without k0s unless K0S_FLAGS says otherwise (its release lives on GitHub).
read -r -a K0S_FLAGS <<<"${K0S_FLAGS:---no-k0s}"
RUNS=${BENCH_RUNS:-3}
export EDGEIMAGE_CACHE=${EDGEIMAGE_CACHE:-$ROOT/.cache/bench}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ei-bench.XXXXXX")
RESULTS=bench/results
SQFS_BLOCK=262144
mkdir -p "$RESULTS"
trap 'status=$?; [ $status = 0 ] || echo "bench: failed (exit $status) at line $LINENO" >&2; rm -rf "$WORK"' EXIT

for tool in mmdebstrap dpkg-scanpackages tar2sqfs sqfs2tar /usr/bin/time jq mcopy; do
  command -v "$tool" >/dev/null || { echo "error: $tool is missing"; echo "hint: make deps installs the benchmark's Debian packages (mmdebstrap dpkg-dev squashfs-tools-ng time jq mtools)"; exit 1; }
done

# The CLI measured is the CLI as `make publish` installs it: ReadyToRun (precompiled), so a build's
# time is the builder's work rather than the JIT's. Measured on generic-x86_64 (warm cache, 2 cores): about
# 1 CPU-second and 0.5 s of wall time less than the JIT-compiled `dotnet build` output.
say() { echo "bench: $*" >&2; }
say "publishing the CLI ($CONFIG, ReadyToRun, as make publish does)"
dotnet publish builder/EdgeImage.Cli -c "$CONFIG" --use-current-runtime --self-contained false -p:PublishReadyToRun=true \
  -o "$WORK/cli" --nologo --verbosity quiet >"$WORK/publish.log" 2>&1 \
  || { echo "error: dotnet publish of the CLI failed; its output:"; tail -30 "$WORK/publish.log"; echo "hint: make bench restores and builds first; the ReadyToRun compiler comes from NuGet"; exit 1; }
DLL="$WORK/cli/edgeimage.dll"

edgeimage() { dotnet "$DLL" "$@"; }
# seconds VAR LOGFILE CMD...: runs CMD under /usr/bin/time -v, stores wall seconds in VAR, peak RSS (KiB) in VAR_rss.
timed() {
  local var=$1 log=$2; shift 2
  /usr/bin/time -v -o "$WORK/time.txt" "$@" >"$log" 2>&1 || { echo "error: '$*' failed; its output:" >&2; tail -30 "$log" >&2; exit 1; }
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$WORK/time.txt")
  rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$WORK/time.txt")
  printf -v "$var" '%s' "$wall"
  printf -v "${var}_rss" '%s' "$rss"
}
min() { printf '%s\n' "$@" | sort -g | head -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v <= t ? "ok" : "MISS") }'; }

# --- warm up: the build fetches the index and every .deb into the cache -----------------------
say "warming the cache: edgeimage build --profile $PROFILE"
timed _ "$WORK/warm-build.log" dotnet "$DLL" build --profile "$PROFILE" --out "$WORK/img" "${K0S_FLAGS[@]}"
MANIFEST="$WORK/img/manifest.json"
mapfile -t PACKAGES < <(jq -r '.packages[].name' "$MANIFEST")
ARCH=$(jq -r .arch "$MANIFEST")
SUITE=$(jq -r .suite "$MANIFEST")
say "${#PACKAGES[@]} packages for $ARCH"

# The same .debs, straight from EdgeImage's verified cache, as a flat local repository.
mkdir -p "$WORK/repo"
while IFS=$'\t' read -r name version arch sha; do
  ln "$EDGEIMAGE_CACHE/sha256/${sha:0:2}/$sha" "$WORK/repo/${name}_${version//:/%3a}_${arch}.deb" 2>/dev/null \
    || cp "$EDGEIMAGE_CACHE/sha256/${sha:0:2}/$sha" "$WORK/repo/${name}_${version//:/%3a}_${arch}.deb"
done < <(jq -r '.packages[] | [.name, .version, .architecture, .sha256] | @tsv' "$MANIFEST")
(cd "$WORK/repo" && dpkg-scanpackages --multiversion . /dev/null 2>/dev/null > Packages)

say "warming: edgeimage rootfs"
timed _ "$WORK/warm-rootfs.log" dotnet "$DLL" rootfs --profile "$PROFILE" --out "$WORK/rootfs.tar"
# mmdebstrap gets the same path excludes EdgeImage's profile applied (dpkg reads them the same way).
DPKGOPTS=()
if tar -xOf "$WORK/rootfs.tar" ./etc/dpkg/dpkg.cfg.d/edgeimage-exclude > "$WORK/excludes" 2>/dev/null; then
  while read -r line; do
    case "$line" in path-exclude=* | path-include=*) DPKGOPTS+=("--dpkgopt=$line") ;; esac
  done < "$WORK/excludes"
fi
INCLUDE=$(IFS=,; echo "${PACKAGES[*]}")
# mmdebstrap installs with dpkg inside the new tree (--variant=custom); a profile without dpkg (an
# immutable image has no package manager) can only be unpacked by it (--variant=extract), which
# runs no maintainer scripts and so does less than `edgeimage rootfs`.
MMVARIANT=extract
printf '%s\n' "${PACKAGES[@]}" | grep -qx dpkg && MMVARIANT=custom
MMDEBSTRAP=(mmdebstrap --quiet --mode=root --variant=$MMVARIANT --architectures="$ARCH" --include="$INCLUDE"
  --aptopt='Acquire::Languages "none"' "${DPKGOPTS[@]}" "$SUITE" "$WORK/mm.tar" "deb [trusted=yes] copy://$WORK/repo ./")
say "warming: mmdebstrap"
timed _ "$WORK/warm-mm.log" "${MMDEBSTRAP[@]}"

# --- measured rounds, each thing once per round, interleaved so load from elsewhere hits both ---
EI=() MM=() EIRSS=() BUILD=() SQFS=() STAGES=() PAIRS=()
for round in $(seq 1 "$RUNS"); do
  say "round $round/$RUNS: edgeimage rootfs"
  timed t "$WORK/rootfs.log" dotnet "$DLL" rootfs --profile "$PROFILE" --out "$WORK/rootfs.tar"
  EI+=("$t"); EIRSS+=("$t_rss")
  say "round $round/$RUNS: mmdebstrap"
  timed t "$WORK/mm.log" "${MMDEBSTRAP[@]}"
  MM+=("$t")
  say "round $round/$RUNS: edgeimage build"
  timed t "$WORK/build.log" dotnet "$DLL" build --profile "$PROFILE" --out "$WORK/img" "${K0S_FLAGS[@]}"
  BUILD+=("$t"); STAGES+=("$(sed -n 's/^.*stages: //p' "$WORK/build.log" | tail -1)")
  # The tree the build squashed (after kernel-module pruning and the image's own additions), as a
  # tar: read back from slot A of the image the build just wrote.
  offset=$(jq '.partitions[] | select(.name == "root-a") | .offset' "$MANIFEST")
  dd if="$WORK/img/edge.img" of="$WORK/root-a.sqfs" iflag=skip_bytes,count_bytes skip="$offset" count="$(jq .sizes.root "$MANIFEST")" bs=1M status=none
  sqfs2tar "$WORK/root-a.sqfs" > "$WORK/root-a.tar"
  say "round $round/$RUNS: tar2sqfs of the same tree"
  # The block size EdgeImage's SquashfsImage.BlockSize uses, so both compress the same blocks.
  timed t "$WORK/sqfs.log" bash -c "tar2sqfs --quiet --force --compressor zstd --block-size $SQFS_BLOCK --num-jobs $(nproc) '$WORK/bare.sqfs' < '$WORK/root-a.tar'"
  SQFS+=("$t")
  # The build and the bare compression of one round ran back to back, under the same load.
  PAIRS+=("$(ratio "${BUILD[-1]}" "$t")")
done

BOOT="skipped" BOOTLINE=""
if [ "${BENCH_QEMU:-1}" != 0 ]; then
  # The image of bench/profiles/generic-x86_64-bench.yaml: the measured profile plus one unit that,
  # after multi-user.target, prints when that target was reached (guest CLOCK_MONOTONIC, in us).
  # systemd's own "Reached target" console line cannot be the measure: once the serial getty owns
  # the console (it starts before multi-user.target since systemd-user-sessions is masked),
  # systemd may not print its status lines at all.
  say "qemu: building the bench image (generic-x86_64 + the multi-user probe)"
  timed _ "$WORK/bench-build.log" dotnet "$DLL" build --profile "$ROOT/bench/profiles/$PROFILE-bench.yaml" --out "$WORK/bench-img" "${K0S_FLAGS[@]}"
  say "qemu: boot to multi-user.target"
  # The target is for emulation: force TCG even where the runner would pick KVM. Every console
  # line is stamped with the host's time as it arrives (-v echoes the console). journald stamps
  # the probe's console line with the guest's monotonic clock, which gives the offset between
  # the two clocks; multi-user.target's own monotonic timestamp then lands on the host's clock.
  start=$EPOCHREALTIME
  if EDGEIMAGE_QEMU_ACCEL=tcg dotnet "$DLL" qemu "$WORK/bench-img/edge.img" --expect EDGEIMAGE-BENCH-DONE --timeout 300 -v 2>&1 \
      | while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done >"$WORK/qemu.log"; [ "${PIPESTATUS[0]}" = 0 ]; then
    BOOTLINE=$(grep -o 'qemu: .* after [0-9.]*s' "$WORK/qemu.log" | tail -1)
    BOOT=$(awk -v s="$start" 'match($0, /\[ *[0-9]+\.[0-9]+\][^=]*EDGEIMAGE-BENCH multi-user-at-us=[0-9]+/) {
        line = substr($0, RSTART, RLENGTH); split(line, a, /[][]/); guest = a[2] + 0
        sub(/.*=/, "", line); if (line + 0 > 0) printf "%.1f", $1 - guest + line / 1e6 - s; exit }' "$WORK/qemu.log")
    [ -n "$BOOT" ] || BOOT="not seen (see $RESULTS/qemu-console.log)"
    cp "$WORK/qemu.log" "$RESULTS/qemu-console.log"
  else
    BOOT="failed ($(grep -o 'timed out after [0-9]*s' "$WORK/qemu.log" | head -1 || echo "see the log"))"
    cp "$WORK/qemu.log" "$RESULTS/qemu-failed.log"
  fi
fi

# --- the join: time from QEMU start to the device's join request -------------------------------
# The integration tests' join image (generic-x86_64 + the first-boot service, with the k0s STAND-IN,
# since no k0s release is reachable where this runs), seeded with a valid token and booted alone
# under TCG against the tests' fake control plane (Join/JoinBenchmark.cs, Category=bench).
JOIN="skipped"
if [ "${BENCH_QEMU:-1}" != 0 ] && [ "${BENCH_JOIN:-1}" != 0 ]; then
  say "qemu: join image, QEMU start to the join request (k0s stand-in, fake control plane)"
  if EDGEIMAGE_QEMU_ACCEL=tcg EDGEIMAGE_BENCH_OUT="$WORK" dotnet test tests/EdgeImage.IntegrationTests -c "$CONFIG" --no-build \
      --filter "Category=bench" >"$WORK/join.log" 2>&1 && [ -f "$WORK/join.txt" ]; then
    JOIN=$(sed -n 's/^to_join_request_s=//p' "$WORK/join.txt")
    # The guest's console of that boot: its printk-stamped join lines show where the time went.
    cp "$WORK/join-console.log" "$RESULTS/join-console.log" 2>/dev/null || true
  else
    JOIN="failed (see $RESULTS/join-failed.log)"
    cp "$WORK/join.log" "$RESULTS/join-failed.log"
  fi
fi

# --- the other boards: build time (warm cache), OS payload, QEMU (TCG) boot to the login prompt --
# Each profile is built once to warm its cache and once measured. The Pi images boot the way the
# tests boot them (QEMU cannot run the Pi firmware): a sparse copy padded to a power of two as the
# SD card, kernel, initramfs and device tree from the boot partition, and the command line boot.scr
# gives slot A. The first boot is measured: it grows the data partition and creates its file system.
BOARDS=() BOARD_ROWS=()
read -r -a BOARDS <<<"${BENCH_BOARDS-generic-aarch64 rpi-armv7 rpi4-aarch64}"
for board in "${BOARDS[@]}"; do
  out="$WORK/board-$board"
  say "$board: warming the cache"
  timed _ "$WORK/$board-warm.log" dotnet "$DLL" build --profile "$board" --out "$out" "${K0S_FLAGS[@]}"
  say "$board: edgeimage build"
  timed bt "$WORK/$board-build.log" dotnet "$DLL" build --profile "$board" --out "$out" "${K0S_FLAGS[@]}"
  bpayload=$(awk -v p="$(jq .sizes.payload "$out/manifest.json")" 'BEGIN { printf "%.1f", p / 1048576 }')
  bsizes=$(jq -r '.sizes | "kernel \(.kernel / 1048576 * 10 | floor / 10), initramfs \(.initramfs / 1048576 * 10 | floor / 10), root \(.root / 1048576 * 10 | floor / 10)"' "$out/manifest.json")
  machine="-" bboot="skipped"
  if [ "${BENCH_QEMU:-1}" != 0 ]; then
    qemu_args=("$out/edge.img") expect="login:"
    case "$board" in
      generic-aarch64) machine="virt, Cortex-A57, AAVMF (UEFI, systemd-boot, from the disk)" ;;
      rpi-armv7 | rpi4-aarch64)
        if [ "$board" = rpi-armv7 ]; then dtb=bcm2836-rpi-2-b.dtb machine="raspi2b (direct kernel, SD card)" extra=""
        else
          # The profile's getty runs on ttyS1 (the Pi's mini UART), which QEMU's raspi3b does not
          # capture, so the login prompt never shows on the PL011: wait for multi-user itself.
          dtb=bcm2837-rpi-3-b.dtb machine="raspi3b (direct kernel, SD card), to multi-user.target" extra=" console=ttyAMA0,115200" expect="Multi-User System"
        fi
        boot_offset=$(jq '.partitions[] | select(.name == "boot") | .offset' "$out/manifest.json")
        dd if="$out/edge.img" of="$WORK/$board-boot.fat" iflag=skip_bytes,count_bytes skip="$boot_offset" \
          count="$(jq '.partitions[] | select(.name == "boot") | .size' "$out/manifest.json")" bs=1M status=none
        for f in a/vmlinuz a/initrd.img "$dtb" boot.cmd; do mcopy -o -i "$WORK/$board-boot.fat" "::$f" "$WORK/$board-$(basename "$f")"; done
        sig=$(jq -r .diskGuid "$out/manifest.json")
        append=$(sed -n 's/^setenv bootargs "\(.*\)"$/\1/p' "$WORK/$board-boot.cmd" | sed "s/\${edge_slot}/a/; s/\${edge_root}/PARTUUID=$sig-02/")
        cp --sparse=always "$out/edge.img" "$WORK/$board-sd.img"
        truncate -s "$(( 1 << $(awk -v s="$(stat -c %s "$WORK/$board-sd.img")" 'BEGIN { n = 0; while (2 ^ n < s) n++; print n }') ))" "$WORK/$board-sd.img"
        qemu_args=("$WORK/$board-sd.img" --board "$board" --kernel "$WORK/$board-vmlinuz" --initrd "$WORK/$board-initrd.img"
          --dtb "$WORK/$board-$dtb" --append "$append$extra") ;;
    esac
    # TCG times depend on what else the host runs: the 1-minute load average is reported with them.
    machine="$machine; host load $(cut -d' ' -f1 /proc/loadavg)"
    if dotnet "$DLL" qemu "${qemu_args[@]}" --expect "$expect" --timeout 900 >"$WORK/$board-qemu.log" 2>&1; then
      bboot=$(grep -o 'qemu: .* after [0-9.]*s' "$WORK/$board-qemu.log" | tail -1 | sed -n 's/.* after \([0-9.]*\)s$/\1/p')" s"
    else
      bboot="failed (see $RESULTS/qemu-$board-failed.log)"
      cp "$WORK/$board-qemu.log" "$RESULTS/qemu-$board-failed.log"
    fi
  fi
  BOARD_ROWS+=("| $board | $(jq -r .arch "$out/manifest.json") | ${bt} s | ${bpayload} MiB ($bsizes) | ${bboot} | $machine |")
done

# --- report: best round of each (least disturbed by other load on the machine) -----------------
best() { local -n a=$1; min "${a[@]}"; }
ei=$(best EI) mm=$(best MM) build=$(best BUILD) sqfs=$(best SQFS)
rss_mb=$(( $(min "${EIRSS[@]}") / 1024 ))
payload=$(jq .sizes.payload "$MANIFEST")
payload_mib=$(awk -v p="$payload" 'BEGIN { printf "%.1f", p / 1048576 }')
sizes=$(jq -r '.sizes | "kernel \(.kernel / 1048576 * 10 | floor / 10) MiB, initramfs \(.initramfs / 1048576 * 10 | floor / 10) MiB, root \(.root / 1048576 * 10 | floor / 10) MiB"' "$MANIFEST")
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
r_mm=$(ratio "$ei" "$mm") r_sq=$(median "${PAIRS[@]}")
boot_verdict=$([[ "$BOOT" =~ ^[0-9.]+$ ]] && verdict "$BOOT" 15 || echo "-")

{
  echo "# EdgeImage benchmark"
  echo
  echo "profile $PROFILE ($ARCH, ${#PACKAGES[@]} packages), $(nproc) cores, warm cache, CLI published ReadyToRun, times the best of $RUNS rounds, ratio the median of the rounds; commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo
  echo "| measure | value | target | |"
  echo "|---|---|---|---|"
  echo "| edgeimage rootfs | ${ei} s | | |"
  echo "| mmdebstrap (same packages, local repo, --mode=root --variant=$MMVARIANT) | ${mm} s | | |"
  echo "| rootfs time ratio edgeimage / mmdebstrap | ${r_mm} | <= 0.5 | $(verdict "$r_mm" 0.5) |"
  echo "| edgeimage rootfs peak RSS | ${rss_mb} MB | <= 400 MB | $(verdict "$rss_mb" 400) |"
  echo "| edgeimage build total | ${build} s | | |"
  echo "| tar2sqfs -c zstd -b $SQFS_BLOCK of the same tree (slot A as tar) | ${sqfs} s | | |"
  echo "| build / bare squashfs ratio (median of the rounds' pairs: ${PAIRS[*]}) | ${r_sq} | <= 1.3 | $(verdict "$r_sq" 1.3) |"
  echo "| OS payload (kernel + initramfs + root) | ${payload_mib} MiB | <= 48 MiB | $(verdict "$payload_mib" 48) |"
  echo "| QEMU (TCG) start to multi-user.target (the profile + a probe unit, bench/profiles) | ${BOOT}$([[ "$BOOT" =~ ^[0-9.]+$ ]] && echo " s") | <= 15 s | ${boot_verdict} |"
  echo "| QEMU (TCG) start to the join request (join test image, k0s stand-in) | ${JOIN}$([[ "$JOIN" =~ ^[0-9.]+$ ]] && echo " s") | <= 30 s | $([[ "$JOIN" =~ ^[0-9.]+$ ]] && verdict "$JOIN" 30 || echo "-") |"
  echo
  echo "All rounds (s): rootfs ${EI[*]}; mmdebstrap ${MM[*]}; build ${BUILD[*]}; tar2sqfs ${SQFS[*]}"
  echo
  echo "Build stages per round:"
  for s in "${STAGES[@]}"; do echo "- $s"; done
  echo
  echo "Payload: $sizes"
  [ -n "$BOOTLINE" ] && echo && echo "QEMU: $BOOTLINE (the probe's report, after multi-user.target)"
  if [ "${#BOARD_ROWS[@]}" -gt 0 ]; then
    echo
    echo "## Boards (warm cache; QEMU under TCG, first boot of a fresh copy, to the serial login prompt)"
    echo
    echo "| profile | arch | edgeimage build | OS payload (MiB: kernel, initramfs, root) | QEMU boot | QEMU machine |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${BOARD_ROWS[@]}"
  fi
  echo
  echo "Commands: \`edgeimage rootfs --profile $PROFILE\`; \`mmdebstrap --mode=root --variant=$MMVARIANT --include=<the ${#PACKAGES[@]} packages> $SUITE OUT.tar 'deb [trusted=yes] copy://REPO ./'\` (${#DPKGOPTS[@]} dpkg path filters as in the profile); \`edgeimage build --profile $PROFILE\`; \`sqfs2tar root-a | tar2sqfs --compressor zstd --block-size $SQFS_BLOCK\`; \`edgeimage build --profile bench/profiles/$PROFILE-bench.yaml\` then \`edgeimage qemu edge.img --expect EDGEIMAGE-BENCH-DONE --timeout 300 -v\`"
} > "$RESULTS/latest.md"
cat "$RESULTS/latest.md"
