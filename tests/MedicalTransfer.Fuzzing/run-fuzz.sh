#!/usr/bin/env bash
# Fuzzes every target in FuzzTargets.cs (or the ones named) with AFL++ for a given time each, one at a time,
# then prints per target: executions, paths (corpus entries) found, crashes, hangs and the time run.
#
#   tests/MedicalTransfer.Fuzzing/run-fuzz.sh SECONDS_PER_TARGET [TARGET...]
#
# Needs afl++ (Debian's package) and the local dotnet tool SharpFuzz.CommandLine (`dotnet tool restore`).
# It never instruments the build output itself: the two instrumented assemblies (MedicalTransfer.dll and
# SixLabors.ImageSharp.dll) are fresh copies in artifacts/fuzz/app, beside links to everything else, because
# build outputs here are hard links into the NuGet cache and into other projects' bin folders.
# Findings land in artifacts/fuzz/out/TARGET/default/{crashes,hangs}; replay one with
#   dotnet artifacts/fuzz/app/MedicalTransfer.Fuzzing.dll replay TARGET FILE
# The machine is shared: afl-fuzz runs at nice 19 and on one core.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:?usage: run-fuzz.sh SECONDS_PER_TARGET [TARGET...]}
shift

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet tool restore >/dev/null
nice -n 10 dotnet build tests/MedicalTransfer.Fuzzing -c Release -v q -nologo >/dev/null
bin=tests/MedicalTransfer.Fuzzing/bin/Release/net10.0
# FUZZ_APP: another folder for the instrumented copy, so that a second invocation (after adding a target)
# never rewrites the copy a running fuzzer executes.
app=${FUZZ_APP:-artifacts/fuzz/app}
rm -rf "$app"
mkdir -p "$app"
# Real copies of the managed files (the host resolves a linked app to the link's target folder, which would
# load the uninstrumented assemblies); the 0.5 GB of native libraries stay links.
for entry in "$bin"/*; do
  name=$(basename "$entry")
  if [ -d "$entry" ]; then ln -s "$PWD/$entry" "$app/$name"; else cp "$entry" "$app/$name"; fi
done
for dll in MedicalTransfer.dll SixLabors.ImageSharp.dll; do
  dotnet sharpfuzz "$app/$dll" >/dev/null
done

if [ $# -eq 0 ]; then
  mapfile -t targets < <(dotnet "$app/MedicalTransfer.Fuzzing.dll" list | cut -f1)
else
  targets=("$@")
fi

export AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_NO_UI=1 AFL_FORKSRV_INIT_TMOUT=120000 AFL_SUPPRESS_ENV_WARNINGS=1
summary=artifacts/fuzz/summary.tsv
[ -f "$summary" ] || printf 'target\texecutions\tpaths\tcrashes\thangs\tseconds\texecs_per_s\tstarted\n' > "$summary"
for target in "${targets[@]}"; do
  limit=$(dotnet "$app/MedicalTransfer.Fuzzing.dll" list | awk -F'\t' -v t="$target" '$1 == t { print $2 }')
  out=artifacts/fuzz/out/$target
  rm -rf "$out"
  mkdir -p "$out"
  started=$(date -u +%FT%TZ)
  echo "fuzzing $target for ${seconds}s (per-input limit ${limit} ms)"
  nice -n 19 afl-fuzz -i "tests/MedicalTransfer.Fuzzing/corpus/$target" -o "$out" -t "$limit" -m none -V "$seconds" \
    -- dotnet "$app/MedicalTransfer.Fuzzing.dll" fuzz "$target" > "$out/afl.log" 2>&1 || echo "afl-fuzz exited with $? (see $out/afl.log)"
  rm -rf /dev/shm/medicaltransfer-fuzz-"$target"-*
  stats=$out/default/fuzzer_stats
  if [ -f "$stats" ]; then
    get() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$(get execs_done)" "$(get corpus_count)" "$(get saved_crashes)" "$(get saved_hangs)" "$(get run_time)" "$(get execs_per_sec)" "$started" | tee -a "$summary"
  fi
done
column -t -s $'\t' "$summary"
