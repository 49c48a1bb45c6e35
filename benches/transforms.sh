#!/usr/bin/env bash
# Whole-program cost of the transforms: `deid redact` under several policies against
# `deid scan`, on the notes of benches/throughput.sh and the table of benches/tables.sh
# (the same cached files: run those scripts once first to generate them).
#
#   benches/transforms.sh                       # 1 GiB notes, 1 GiB CSV
#   SIZE_MB=256 TABLE_MB=64 benches/transforms.sh
#
# Environment:
#   SIZE_MB   notes size in MiB (default 1024); TABLE_MB table size (default SIZE_MB)
#   SEED, RUNS, DEID_BIN   as in common.sh
#
# Policies, each run on all cores (-jN):
#   scan                    deid scan --format jsonl (the reference)
#   default, no key         the built-in safe-harbor policy, keyless: tag + generalize
#   default, keyed          safe-harbor with a key: link ids become tokens (encrypted store)
#   hash                    every identifier a keyed HMAC pseudonym
#   encrypt                 every identifier FF1-encrypted where it can be, tagged otherwise
#   shift                   dates shifted per subject (the note / the mrn column), rest tagged
#   surrogate               every identifier a consistent fake
# The table runs pin `mrn` as the MRN column and the subject of `shift`.
# The ratio printed is redact MB/s over scan MB/s (target: ≥ 0.5).
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "$0")/common.sh"
TABLE_MB=${TABLE_MB:-$SIZE_MB}
label_width=30

notes=$data/notes-${SIZE_MB}MiB-seed$SEED.txt
table=$data/tables-${TABLE_MB}MiB-seed$SEED.csv
for input in "$notes" "$table"; do
  if [[ ! -s $input ]]; then
    echo "$input is missing: run benches/throughput.sh (SIZE_MB) and benches/tables.sh (TABLE_MB) once to generate it" >&2
    exit 2
  fi
done

"$deid" keygen -o "$work/key" 2> /dev/null
policy() {
  # policy NAME TOML: writes $work/NAME.toml.
  printf '%s\n' "$2" > "$work/$1.toml"
}
policy hash $'name = "hash"\ndefault = "hash"'
policy encrypt $'name = "encrypt"\ndefault = "encrypt"'
policy shift $'name = "shift"\ndefault = "tag"\n[entities]\nDATE = "shift"\n[shift]\nmin_days = -365\nmax_days = 365\nsubject = "mrn"'
policy surrogate $'name = "surrogate"\ndefault = "surrogate"'

print_header "deid transforms"
print_load before
echo "$RUNS runs each, median shown; -j$cores"

run_policies() {
  # run_policies INPUT OUTPUT EXTRA_ARGS…: scan and every policy on one input.
  local input=$1 out=$2
  shift 2
  file=$input
  bytes=$(stat -c %s "$input")
  warm "$input"
  echo
  echo "input: $input ($(awk -v b="$bytes" 'BEGIN { printf "%.1f MB", b / 1e6 }'))"
  table_header
  # The token store grows across runs; each run starts from none, as a first run would.
  before_run() { rm -f "$work/key.tokens"; }
  measure "scan" "$cores" /dev/null -- "$deid" scan --quiet --format jsonl -j"$cores" "$@" "$input"
  local scan_wall=$wall
  local -a labels=("default, no key" "default, keyed" hash encrypt shift surrogate)
  local -a options=("" "--key-file $work/key" "--key-file $work/key --policy $work/hash.toml"
    "--key-file $work/key --policy $work/encrypt.toml" "--key-file $work/key --policy $work/shift.toml"
    "--key-file $work/key --policy $work/surrogate.toml")
  local -A walls=()
  local i
  for i in "${!labels[@]}"; do
    # shellcheck disable=SC2086
    measure "redact: ${labels[$i]}" "$cores" /dev/null -- "$deid" redact --quiet -j"$cores" ${options[$i]} "$@" "$input" -o "$out"
    walls[$i]=$wall
  done
  echo "ratios (redact MB/s / scan MB/s, target ≥ 0.5):"
  for i in "${!labels[@]}"; do
    ratio "${labels[$i]}" "${walls[$i]}" "$scan_wall" ""
  done
}

run_policies "$notes" "$work/notes.out"
run_policies "$table" "$work/table.csv" --column mrn=MRN
echo
print_load after
