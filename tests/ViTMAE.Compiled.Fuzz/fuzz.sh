#!/usr/bin/env bash
# AFL fuzzing of the runtime library's untrusted inputs (SharpFuzz, out-of-process persistent mode).
#
#   fuzz.sh <target> <seconds> [<jobs>]     build, instrument, run afl-fuzz for <seconds> with <jobs> instances (default 1)
#   fuzz.sh --replay [<target>] <path>...   run files/folders through the target in-process, no AFL (regressions);
#                                           the target may be left out when the folder is named after it
#                                           (regressions/<target>, corpus/<target>)
#
# Targets: safetensors, config, image. Exit status: 0 when AFL found no crash and no hang (--replay: no untyped
# exception, no hang), 1 otherwise, 2 on a usage or set-up error. The last line of a fuzzing run is
#   fuzz <target>: <n> executions in <s> s (<r> exec/s), <c> crashes, <h> hangs
#
# Work files live in artifacts/fuzz/<target>/ (git-ignored): bin/ (the instrumented copy of the build), in/ (seeds),
# out/ (AFL's output: queue, crashes, hangs), findings/ (crashing and hanging inputs of the last run).
# Environment: FUZZ_TIMEOUT_MS (AFL -t, default 3000), FUZZ_RESUME=1 (continue the previous run's queue instead of
# starting from the seeds; AFL moves the earlier crashes and hangs aside), FUZZ_NO_BUILD=1 (reuse the last build), FUZZ_ALLOW_PENDING=1 (crashes that replay to the
# signature of an input under regressions/pending/<target> do not fail the run).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
shared=$(cd "$repo/.." && pwd)/shared
targets="safetensors config image"
project="$here/ViTMAE.Compiled.Fuzz.csproj"
build_dir="$here/bin/Release/net10.0"
harness=ViTMAE.Compiled.Fuzz.dll

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 MSBUILDDISABLENODEREUSE=1

die() { echo "fuzz.sh: $*" >&2; exit 2; }
is_target() { case " $targets " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

build() {
  command -v dotnet > /dev/null || die "dotnet not found (the .NET 10 SDK is required)"
  [ "${FUZZ_NO_BUILD:-}" = 1 ] && [ -f "$build_dir/$harness" ] && return 0
  mkdir -p "$repo/artifacts/fuzz"
  # One build at a time: two fuzz.sh runs started together share the project's obj/ folder.
  (
    flock 9
    echo "::: building $project (Release)"
    if ! dotnet build "$project" -c Release -nologo -v quiet > "$repo/artifacts/fuzz/build.log" 2>&1; then
      cat "$repo/artifacts/fuzz/build.log" >&2
      die "build failed"
    fi
  ) 9> "$repo/artifacts/fuzz/.build.lock"
}

replay() {
  local target=""
  if [ $# -gt 0 ] && is_target "$1"; then target=$1; shift; fi
  [ $# -gt 0 ] || die "usage: fuzz.sh --replay [<target>] <file-or-folder>..."
  if [ -z "$target" ]; then
    target=$(basename "$1")
    is_target "$target" || die "name the target: fuzz.sh --replay <safetensors|config|image> $*"
  fi
  build
  dotnet "$build_dir/$harness" --replay "$target" "$@"
}

# afl-fuzz from Debian's afl++ package; installed here when missing and this is a root shell with apt-get.
ensure_afl() {
  command -v afl-fuzz > /dev/null && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
    echo "::: installing afl++ (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends afl++; } > "$repo/artifacts/fuzz/apt.log" 2>&1 \
      || { cat "$repo/artifacts/fuzz/apt.log" >&2; die "apt-get install afl++ failed"; }
  fi
  command -v afl-fuzz > /dev/null || die "afl-fuzz not found: install AFL++ (Debian: apt-get install afl++)"
}

# The sharpfuzz instrumenter, pinned by the tool manifest beside this script (.config/dotnet-tools.json).
sharpfuzz() { (cd "$here" && dotnet tool run sharpfuzz "$@"); }

# A stat of every AFL instance, summed (integer part).
stat_sum() { cat "$out"/*/fuzzer_stats 2> /dev/null | awk -F: -v key="$1" '{ gsub(/ /, "", $1) } $1 == key { s += int($2) } END { print s + 0 }'; }
count_files() { find "$out" -path "*/$1/id:*" -type f 2> /dev/null | wc -l; }

fuzz() {
  local target=$1 seconds=$2 jobs=${3:-1}
  is_target "$target" || die "unknown target '$target' (one of: $targets)"
  [[ "$seconds" =~ ^[0-9]+$ ]] && [ "$seconds" -gt 0 ] || die "seconds must be a positive integer, not '$seconds'"
  [[ "$jobs" =~ ^[0-9]+$ ]] && [ "$jobs" -gt 0 ] || die "jobs must be a positive integer, not '$jobs'"
  mkdir -p "$repo/artifacts/fuzz"
  ensure_afl
  build
  (cd "$here" && dotnet tool restore > "$repo/artifacts/fuzz/tool-restore.log" 2>&1) \
    || { cat "$repo/artifacts/fuzz/tool-restore.log" >&2; die "dotnet tool restore (SharpFuzz.CommandLine) failed"; }

  local work="$repo/artifacts/fuzz/$target"
  local bin="$work/bin" in="$work/in"
  out="$work/out"
  mkdir -p "$work"

  # Instrument a copy of the build: sharpfuzz rewrites the assembly in place and refuses to do it twice.
  rm -rf "$bin"
  cp -r "$build_dir" "$bin"
  # The config target also parses preprocessor_config.json, which lives in the Imaging assembly with the decoders.
  local assemblies=ViTMAE.Compiled.dll
  [ "$target" != safetensors ] && assemblies="$assemblies ViTMAE.Compiled.Imaging.dll"
  for assembly in $assemblies; do
    sharpfuzz "$bin/$assembly" > "$work/instrument.log" 2>&1 || { cat "$work/instrument.log" >&2; die "sharpfuzz $assembly failed"; }
  done

  # Seeds: the committed corpus, the regression inputs (all pass), and larger files from ../shared and samples/.
  rm -rf "$in"
  mkdir -p "$in"
  cp "$here/corpus/$target"/* "$in/"
  if [ -d "$here/regressions/$target" ]; then find "$here/regressions/$target" -maxdepth 1 -type f -exec cp {} "$in/" \; ; fi
  case $target in
    safetensors)
      for f in tiny-nomask/model.safetensors tiny-nomask/io.safetensors; do
        [ -f "$shared/golden/$f" ] && cp "$shared/golden/$f" "$in/golden-${f//\//-}"
      done ;;
    image)
      cp "$repo/samples/images/house.png" "$in/"
      for f in gray_160x120.png rgb_gradient_300x200.png rgba_200x300.png photo_640x480_q90.jpg; do
        [ -f "$shared/golden/preprocess/$f" ] && cp "$shared/golden/preprocess/$f" "$in/golden-$f"
      done ;;
  esac

  # Every seed must pass before fuzzing (AFL would stop at a crashing seed with a less clear message).
  echo "::: replaying the $(ls "$in" | wc -l) seeds"
  dotnet "$build_dir/$harness" --replay "$target" "$in" | tail -n 20 || die "a seed fails: see above"

  # On resume AFL continues its counters: the totals printed below are this run's, the earlier ones subtracted.
  local input="-i $in" prev_execs=0 prev_time=0
  if [ "${FUZZ_RESUME:-}" = 1 ] && [ -f "$out/main/fuzzer_stats" ]; then
    input="-i -"
    prev_execs=$(stat_sum execs_done)
    prev_time=$(awk -F: '{ gsub(/ /, "", $1) } $1 == "run_time" { print int($2) }' "$out/main/fuzzer_stats")
  else
    rm -rf "$out"
  fi

  export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
  export AFL_FORKSRV_INIT_TMOUT=60000 AFL_QUIET=1
  local timeout=${FUZZ_TIMEOUT_MS:-3000}
  local dict="$here/dict/$target.dict"
  echo "::: afl-fuzz $target for $seconds s, $jobs instance(s), timeout $timeout ms"
  local pids=() i
  for ((i = 0; i < jobs; i++)); do
    local role="-M main"
    [ "$i" -gt 0 ] && role="-S secondary$i"
    # shellcheck disable=SC2086 # $input and $role are two words each
    afl-fuzz $input -o "$out" $role -t "$timeout" -m none -V "$seconds" -x "$dict" \
      -- dotnet "$bin/$harness" "$target" > "$work/afl-$i.log" 2>&1 < /dev/null &
    pids+=($!)
  done
  local status=0
  for pid in "${pids[@]}"; do wait "$pid" || status=$?; done

  # Child processes left by the out-of-process server when AFL stopped it exit by themselves (they watch their
  # parent); their RAM-disk workspaces do not: remove the ones whose process is gone.
  sleep 1
  for d in /dev/shm/vitmae-fuzz-*; do
    [ -d "$d" ] || continue
    local p=${d#/dev/shm/vitmae-fuzz-}; p=${p%%-*}
    kill -0 "$p" 2> /dev/null || rm -rf "$d"
  done

  if [ ! -f "$out/main/fuzzer_stats" ]; then
    tail -n 30 "$work"/afl-*.log >&2
    die "afl-fuzz did not run (exit $status): see $work/afl-0.log"
  fi

  local execs runtime crashes hangs rate
  execs=$(( $(stat_sum execs_done) - prev_execs ))
  runtime=$(( $(awk -F: '{ gsub(/ /, "", $1) } $1 == "run_time" { print int($2) }' "$out/main/fuzzer_stats") - ${prev_time:-0} ))
  crashes=$(count_files crashes)
  hangs=$(count_files hangs)
  rate=$(awk -v e="$execs" -v t="$runtime" 'BEGIN { printf "%.0f", (t > 0 ? e / t : 0) }')

  rm -rf "$work/findings"
  if [ "$crashes" -gt 0 ] || [ "$hangs" -gt 0 ]; then
    mkdir -p "$work/findings/crashes" "$work/findings/hangs"
    find "$out" -path "*/crashes/id:*" -type f -exec cp {} "$work/findings/crashes/" \;
    find "$out" -path "*/hangs/id:*" -type f -exec cp {} "$work/findings/hangs/" \;
    echo "::: AFL saved $crashes crash(es) and $hangs hang(s) in $work/findings; in-process replay of the crashes:"
    if [ "$crashes" -gt 0 ]; then
      dotnet "$build_dir/$harness" --replay "$target" "$work/findings/crashes" | grep -E '^(UNIQUE|HANG|replay)' || true
    fi
    # Hangs, timed in-process (the first three): AFL's limit is wall-clock time on a possibly busy machine.
    find "$work/findings/hangs" -type f | sort | head -n 3 | while read -r f; do
      local t0 t1
      t0=$(date +%s.%N)
      dotnet "$build_dir/$harness" --replay "$target" "$f" --timeout 60 > "$work/hang-replay.log" 2>&1 || true
      t1=$(date +%s.%N)
      echo "hang $(basename "$f"): $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s in-process: $(tail -n 1 "$work/hang-replay.log")"
    done
  fi

  # FUZZ_ALLOW_PENDING=1: crashes whose signature (exception type and the class of the first library frame, or the
  # broken invariant) is one of regressions/pending/<target>'s do not fail the run (known findings waiting for a fix).
  local known=0
  if [ "${FUZZ_ALLOW_PENDING:-}" = 1 ] && [ "$crashes" -gt 0 ] && [ "$hangs" -eq 0 ] && [ -d "$here/regressions/pending/$target" ]; then
    signatures() { dotnet "$build_dir/$harness" --replay "$target" "$1" | sed -n 's/^UNIQUE \(.*\) ([0-9]* inputs\{0,1\}, e\.g\. .*$/\1/p' \
      | sed 's/^\([^ ]* at [^(]*\)\.[^.(]*(.*$/\1/' | sort -u; }
    local fresh
    fresh=$(comm -23 <(signatures "$work/findings/crashes") <(signatures "$here/regressions/pending/$target"))
    if [ -z "$fresh" ]; then
      known=1
      echo "::: every crash matches a pending regression (FUZZ_ALLOW_PENDING=1)"
    else
      echo "::: crashes not among the pending regressions:"; echo "$fresh"
    fi
  fi

  echo "fuzz $target: $execs executions in $runtime s ($rate exec/s), $crashes crashes, $hangs hangs"
  [ "$hangs" -eq 0 ] && { [ "$crashes" -eq 0 ] || [ "$known" -eq 1 ]; }
}

case "${1:-}" in
  --replay) shift; replay "$@" ;;
  "" | -h | --help) sed -n '2,20p' "$0"; exit 2 ;;
  *)
    if [ "${2:-}" = --replay ]; then t=$1; shift 2; replay "$t" "$@"; exit $?; fi
    [ $# -ge 2 ] || die "usage: fuzz.sh <target> <seconds> [<jobs>]"
    fuzz "$@" ;;
esac
