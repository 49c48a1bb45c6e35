# Shared by benches/throughput.sh and benches/tables.sh; sourced, not run.
#
# Provides: strict mode; root, SIZE_MB, SEED, RUNS (environment, with defaults), cores and
# data (bench-data/); `need` (apt-get install of a missing tool), with ripgrep and
# /usr/bin/time ensured; the temporary work dir (removed on exit); deid, a private copy of
# DEID_BIN (default: a release build of this checkout); rg_patterns; and the helpers
# print_header, print_load, warm, table_header, measure (+ the before_run hook), ratio,
# peak and memory_report. measure and memory_report read the caller's globals file,
# quarter, bytes and quarter_bytes; label_width and ratio_width (default 34 and 44) are
# the widths of the label columns of the table and of the ratios.
# The callers set file, quarter, bytes and quarter_bytes and use what this file sets:
# shellcheck shell=bash disable=SC2034,SC2154
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SIZE_MB=${SIZE_MB:-1024}
SEED=${SEED:-20240901}
RUNS=${RUNS:-3}
cores=$(nproc)
label_width=34
ratio_width=44

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

print_header() {
  # print_header TITLE [VERSIONS]: the title with the date, the machine, and the versions
  # of deid and ripgrep (then "; VERSIONS" when given).
  local uname_cpu
  uname_cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
  echo "$1 — $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "machine: $cores cores ($(nproc --all) online), ${uname_cpu:-unknown CPU}, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(uname -sr)"
  echo "deid: $("$deid" --version 2>/dev/null || echo '?') ($(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet 2>/dev/null || echo ', dirty tree')); $(rg --version | sed -n 1p)${2:+; $2}"
}

print_load() {
  # print_load WHEN: the load average, "before" or "after" the measurements.
  echo "load average $1: $(cut -d' ' -f1-3 /proc/loadavg)"
}

warm() {
  # warm FILE…: read each file twice, to have it in the page cache.
  local f
  for f in "$@"; do
    cat "$f" > /dev/null
    cat "$f" > /dev/null
  done
}

table_header() {
  printf "%-${label_width}s %3s %9s %10s %12s %10s %9s   %s\n" command thr 'wall s' 'MB/s' 'MB/s/thread' 'MB/cpu-s' 'maxRSS MB' 'all runs (s)'
}

# Called by measure before each timed run; a script redefines it to clean up between runs.
before_run() { :; }

# Results of the last `measure`: median wall seconds, median CPU seconds, max RSS (KiB).
wall=0 cpu=0 rss=0
# measure LABEL THREADS OUT -- COMMAND…: RUNS timed runs with stdout to OUT; prints a row.
# MB/s are per $bytes of input.
measure() {
  local label=$1 threads=$2 out=$3
  shift 4
  local walls=() cpus=() rsses=() start end status user sys maxrss
  for ((run = 0; run < RUNS; run++)); do
    before_run
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
  awk -v lw="$label_width" -v l="$label" -v t="$threads" -v b="$bytes" -v w="$wall" -v c="$cpu" -v r="$rss" -v all="${walls[*]}" 'BEGIN {
    mbs = b / 1e6 / w
    printf "%-" lw "s %3d %9.3f %10.1f %12.1f %10s %9.1f   [%s]\n", l, t, w, mbs, mbs / t, (c > 0.05 ? sprintf("%.1f", b / 1e6 / c) : "-"), r / 1024, all
  }'
}

ratio() {
  # ratio LABEL A B NOTE [FORMAT]: throughput of A over throughput of B (= wall B / wall A),
  # the label padded to $ratio_width, the value printed with FORMAT (default %8.4g).
  awk -v lw="$ratio_width" -v l="$1" -v a="$2" -v b="$3" -v note="$4" -v fmt="${5:-%8.4g}" 'BEGIN {
    printf "  %-" lw "s " fmt "%s\n", l, b / a, (note == "" ? "" : "   " note)
  }'
}

# Memory: peak RSS of `deid scan -jN` on the whole input and on its first quarter.
# /usr/bin/time's maximum RSS counts the pages of a memory-mapped input that the scan has
# touched (RssFile: page cache, shared and reclaimable); RssAnon is the process's own heap.
# Their peaks are sampled from /proc every 20 ms in one extra run per file.
peak() {
  # peak THREADS FILE: prints the peak RssAnon and RssFile (KiB) of one `deid scan`.
  local threads=$1 f=$2 pid anon=0 filerss=0 a r
  "$deid" scan --quiet --format jsonl -j"$threads" "$f" > /dev/null &
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

memory_report() {
  # memory_report LABEL THREADS FULL_RSS: findings and ripgrep matches in $quarter, then the
  # memory table of `deid scan -jTHREADS` on $file and $quarter, titled "memory of LABEL";
  # FULL_RSS is the maxRSS (KiB) that `measure` found for that scan of $file.
  local label=$1 threads=$2 full_rss=$3 quarter_rss anon_full file_full anon_quarter file_quarter
  /usr/bin/time -f '%M' -o "$work/time" "$deid" scan --quiet --format jsonl -j"$threads" "$quarter" > "$work/findings" || (($? == 1))
  quarter_rss=$(tail -n 1 "$work/time")
  echo "deid findings in the first quarter: $(wc -l < "$work/findings") (ripgrep matches there: $(rg --no-unicode --count-matches "${rg_patterns[@]}" "$quarter" || echo 0))"
  read -r anon_full file_full < <(peak "$threads" "$file")
  read -r anon_quarter file_quarter < <(peak "$threads" "$quarter")
  echo
  echo "memory of $label (MB = 2^20 bytes here):"
  awk -v fb="$bytes" -v qb="$quarter_bytes" -v fr="$full_rss" -v qr="$quarter_rss" \
    -v fa="$anon_full" -v ff="$file_full" -v qa="$anon_quarter" -v qf="$file_quarter" 'BEGIN {
    printf "  %-14s %10s %14s %16s %16s\n", "input", "MiB", "maxRSS (time)", "peak RssAnon", "peak RssFile"
    printf "  %-14s %10.1f %14.1f %16.1f %16.1f\n", "full file", fb / 1048576, fr / 1024, fa / 1024, ff / 1024
    printf "  %-14s %10.1f %14.1f %16.1f %16.1f\n", "first quarter", qb / 1048576, qr / 1024, qa / 1024, qf / 1024
  }'
}
