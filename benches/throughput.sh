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
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "$0")/common.sh"

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

print_header "deid throughput"
echo "file: $file"
echo "      $bytes bytes ($(awk -v b="$bytes" 'BEGIN { printf "%.1f MB", b / 1e6 }'), SIZE_MB=$SIZE_MB, seed $SEED); $RUNS runs each, median shown"
print_load before
echo

warm "$file"

table_header
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
n=${threads_list[-1]}
d1=${deid_wall[1]} dn=${deid_wall[$n]}
ratio_width=28
echo "ratios (throughput, higher is faster):"
ratio "deid scan -j1 / rg -j1" "$d1" "$rg1_wall" "$(awk -v a="$d1" -v b="$rg1_wall" 'BEGIN { printf "(rg is %.1fx faster on one thread)", a / b }')"
ratio "deid scan -j1 / cat" "$d1" "$cat_wall" "$(awk -v a="$d1" -v b="$cat_wall" 'BEGIN { printf "(cat is %.0fx faster)", a / b }')"
ratio "deid scan -j$n / cat" "$dn" "$cat_wall" "$(awk -v a="$dn" -v b="$cat_wall" 'BEGIN { printf "(cat is %.0fx faster)", a / b }')"
ratio "deid scan -j$n / scan -j1" "$dn" "$d1" "(parallel speed-up)" %8.3f
ratio "deid redact -j$n / scan -j$n" "$redact_wall" "$dn" "" %8.3f

memory_report "deid scan -j$cores" "$cores" "$scan_rss_full"
print_load after
