#!/usr/bin/env bash
# Whole-program throughput of deid against ripgrep and the memory-read limit, on the same
# file in the same run (DESIGN §9).
#
#   benches/throughput.sh                 # 1 GiB of generated notes (cached in bench-data/)
#   SIZE_MB=256 benches/throughput.sh     # a smaller file
#
# Environment:
#   SIZE_MB   size of the generated notes file in MiB (default 1024)
#   SEED      generator seed (default 20240901); the file is cached per size and seed
#   RUNS      timed runs per command; the median is reported (default 3)
#   DEID_BIN  the binary to measure (default: `cargo build --release` of this checkout)
#
# What it runs, each RUNS times on a warm page cache:
#   cat FILE > /dev/null                                   the read limit
#   rg --no-unicode --count-matches -j1 -e … FILE          7 simple patterns (SSN, phone,
#   rg --no-unicode --count-matches -jN -e … FILE          e-mail, date, IPv4, URL, ZIP)
#   deid scan --quiet --format jsonl -j1|-j2|-jN FILE > /dev/null   the full bundled pack
#   deid redact --quiet -jN FILE -o - > /dev/null
# then one more `deid scan -jN` on the full file and on its first quarter, sampling
# /proc/PID/status, to show that memory does not grow with the file.
#
# MB are 10^6 bytes. "MB/s/thread" divides by the threads asked for; "MB/cpu-s" divides
# by user+system CPU time, which is the honest per-core figure on a busy machine. deid
# exits 1 when it finds PHI: that counts as success here (exit 2 fails the script).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
SIZE_MB=${SIZE_MB:-1024}
SEED=${SEED:-20240901}
RUNS=${RUNS:-3}
cores=$(nproc)

need() {
  # need COMMAND PACKAGE: install a missing tool from Debian's packages.
  if ! command -v "$1" > /dev/null; then
    echo "installing $2 …" >&2
    if [[ -z $(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages' -print -quit 2> /dev/null) ]]; then
      apt-get update -qq >&2
    fi
    apt-get install -y -qq "$2" > /dev/null
  fi
}
need rg ripgrep
need /usr/bin/time time

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ -z ${DEID_BIN:-} ]]; then
  cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin deid
  DEID_BIN=$root/target/release/deid
fi
# A private copy: other builds sharing target/ must not swap the binary mid-run.
cp "$DEID_BIN" "$work/deid"
deid=$work/deid

data=$root/bench-data
mkdir -p "$data"
file=$data/notes-${SIZE_MB}MiB-seed$SEED.txt
if [[ ! -s $file ]]; then
  echo "generating $file …" >&2
  python3 "$root/benches/gen_notes.py" "$file.tmp" "$SIZE_MB" --seed "$SEED"
  mv "$file.tmp" "$file"
fi
bytes=$(stat -c %s "$file")
quarter=$data/notes-${SIZE_MB}MiB-seed$SEED.quarter.txt
if [[ ! -s $quarter ]]; then
  # The first quarter, cut at a line end.
  head -c $((bytes / 4)) "$file" | python3 -c 'import sys; b = sys.stdin.buffer.read(); sys.stdout.buffer.write(b[: b.rfind(b"\n") + 1])' > "$quarter.tmp"
  mv "$quarter.tmp" "$quarter"
fi
quarter_bytes=$(stat -c %s "$quarter")

# The simple rules of the bundled pack as ripgrep patterns, ASCII classes only.
rg_patterns=(
  -e '\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b'
  -e '(?:\+1[ .-]?)?(?:\([0-9]{3}\) ?|\b[0-9]{3}[ .-])[0-9]{3}[ .-][0-9]{4}\b'
  -e '\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b'
  -e '\b(?:[0-9]{1,2}[/.-][0-9]{1,2}[/.-](?:[0-9]{4}|[0-9]{2})|[0-9]{4}-[0-9]{2}-[0-9]{2})\b'
  -e '\b(?:[0-9]{1,3}\.){3}[0-9]{1,3}\b'
  -e '\bhttps?://[^\s<>"]+'
  -e '\b[0-9]{5}(?:-[0-9]{4})?\b'
)

# Results of the last `measure`: median wall seconds, median CPU seconds, max RSS (KiB).
wall=0 cpu=0 rss=0
# measure LABEL THREADS OUT -- COMMAND…: RUNS timed runs with stdout to OUT; prints a row.
measure() {
  local label=$1 threads=$2 out=$3
  shift 4
  local walls=() cpus=() rsses=() start end status
  for ((run = 0; run < RUNS; run++)); do
    start=$(date +%s%N)
    status=0
    /usr/bin/time -f '%U %S %M' -o "$work/time" "$@" > "$out" || status=$?
    end=$(date +%s%N)
    if ((status > 1)); then
      echo "$label: exit $status" >&2
      cat "$work/time" >&2
      exit 2
    fi
    read -r user sys maxrss < <(tail -n 1 "$work/time")
    walls+=("$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')")
    cpus+=("$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')")
    rsses+=("$maxrss")
  done
  wall=$(printf '%s\n' "${walls[@]}" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
  cpu=$(printf '%s\n' "${cpus[@]}" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
  rss=$(printf '%s\n' "${rsses[@]}" | sort -g | tail -n 1)
  awk -v l="$label" -v t="$threads" -v b="$bytes" -v w="$wall" -v c="$cpu" -v r="$rss" -v all="${walls[*]}" 'BEGIN {
    mbs = b / 1e6 / w
    printf "%-34s %3d %9.3f %10.1f %12.1f %10s %9.1f   [%s]\n", l, t, w, mbs, mbs / t, (c > 0.05 ? sprintf("%.1f", b / 1e6 / c) : "-"), r / 1024, all
  }'
}

uname_cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo "deid throughput — $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $cores cores ($(nproc --all) online), ${uname_cpu:-unknown CPU}, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(uname -sr)"
echo "deid: $("$deid" --version 2>/dev/null || echo '?') ($(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet 2>/dev/null || echo ', dirty tree')); $(rg --version | sed -n 1p)"
echo "file: $file"
echo "      $bytes bytes ($(awk -v b="$bytes" 'BEGIN { printf "%.1f MB", b / 1e6 }'), SIZE_MB=$SIZE_MB, seed $SEED); $RUNS runs each, median shown"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# Warm the page cache.
cat "$file" > /dev/null
cat "$file" > /dev/null

printf '%-34s %3s %9s %10s %12s %10s %9s   %s\n' command thr 'wall s' 'MB/s' 'MB/s/thread' 'MB/cpu-s' 'maxRSS MB' 'all runs (s)'
measure "cat > /dev/null" 1 /dev/null -- cat "$file"
cat_wall=$wall
measure "rg --no-unicode -j1 (7 patterns)" 1 "$work/rg1" -- rg --no-unicode --count-matches -j1 "${rg_patterns[@]}" "$file"
rg1_wall=$wall
measure "rg --no-unicode -j$cores (7 patterns)" "$cores" "$work/rgn" -- rg --no-unicode --count-matches -j"$cores" "${rg_patterns[@]}" "$file"
declare -A deid_wall
threads_list=(1)
((cores >= 2)) && threads_list+=(2)
((cores > 2)) && threads_list+=("$cores")
for j in "${threads_list[@]}"; do
  measure "deid scan -j$j (bundled pack)" "$j" /dev/null -- "$deid" scan --quiet --format jsonl -j"$j" "$file"
  deid_wall[$j]=$wall
done
scan_rss_full=$rss
measure "deid redact -j$cores" "$cores" /dev/null -- "$deid" redact --quiet -j"$cores" "$file" -o -
redact_wall=$wall

echo
echo "ripgrep matches: $(cat "$work/rg1") (rg searches one file on one thread whatever -j says)"
echo
awk -v c="$cat_wall" -v r="$rg1_wall" -v d1="${deid_wall[1]}" -v dn="${deid_wall[${threads_list[-1]}]}" -v n="${threads_list[-1]}" -v red="$redact_wall" 'BEGIN {
  printf "ratios (throughput, higher is faster):\n"
  printf "  deid scan -j1 / rg -j1       %8.4g   (rg is %.1fx faster on one thread)\n", r / d1, d1 / r
  printf "  deid scan -j1 / cat          %8.4g   (cat is %.0fx faster)\n", c / d1, d1 / c
  printf "  deid scan -j%d / cat          %8.4g   (cat is %.0fx faster)\n", n, c / dn, dn / c
  printf "  deid scan -j%d / scan -j1     %8.3f   (parallel speed-up)\n", n, d1 / dn
  printf "  deid redact -j%d / scan -j%d   %8.3f\n", n, n, dn / red
}'

# Memory: peak RSS of `deid scan -jN` on the whole file and on its first quarter.
# /usr/bin/time's maximum RSS counts the pages of the memory-mapped input that the scan has
# touched (RssFile: page cache, shared and reclaimable); RssAnon is the process's own heap.
# Their peaks are sampled from /proc every 20 ms in one extra run per file.
peak() {
  local f=$1 pid anon=0 filerss=0 a r
  "$deid" scan --quiet --format jsonl -j"$cores" "$f" > /dev/null &
  pid=$!
  while [[ -r /proc/$pid/status ]]; do
    a=$(awk '/^RssAnon/ { print $2 }' "/proc/$pid/status" 2> /dev/null || true)
    r=$(awk '/^RssFile/ { print $2 }' "/proc/$pid/status" 2> /dev/null || true)
    [[ -n $a ]] && ((a > anon)) && anon=$a
    [[ -n $r ]] && ((r > filerss)) && filerss=$r
    sleep 0.02
  done
  wait "$pid" || (($? == 1))
  echo "$anon $filerss"
}
/usr/bin/time -f '%M' -o "$work/time" "$deid" scan --quiet --format jsonl -j"$cores" "$quarter" > "$work/findings" || (($? == 1))
quarter_rss=$(tail -n 1 "$work/time")
echo "deid findings in the first quarter: $(wc -l < "$work/findings") (ripgrep matches there: $(rg --no-unicode --count-matches "${rg_patterns[@]}" "$quarter" || echo 0))"
read -r anon_full file_full < <(peak "$file")
read -r anon_quarter file_quarter < <(peak "$quarter")
echo
echo "memory of deid scan -j$cores (MB = 2^20 bytes here):"
awk -v fb="$bytes" -v qb="$quarter_bytes" -v fr="$scan_rss_full" -v qr="$quarter_rss" \
  -v fa="$anon_full" -v ff="$file_full" -v qa="$anon_quarter" -v qf="$file_quarter" 'BEGIN {
  printf "  %-14s %10s %14s %16s %16s\n", "input", "MiB", "maxRSS (time)", "peak RssAnon", "peak RssFile"
  printf "  %-14s %10.1f %14.1f %16.1f %16.1f\n", "full file", fb / 1048576, fr / 1024, fa / 1024, ff / 1024
  printf "  %-14s %10.1f %14.1f %16.1f %16.1f\n", "first quarter", qb / 1048576, qr / 1024, qa / 1024, qf / 1024
}'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
