#!/usr/bin/env bash
# Whole-program throughput of deid on tables (CSV and Parquet) against the read limit, a
# parse-only CSV baseline and ripgrep, on the same data in the same run.
#
#   benches/tables.sh                     # 1 GiB of generated CSV (cached in bench-data/)
#   SIZE_MB=64 benches/tables.sh          # a smaller table
#
# Environment:
#   SIZE_MB   size of the generated CSV in MiB (default 1024)
#   SEED      generator seed (default 20240901); the files are cached per size and seed
#   RUNS      timed runs per command; the median is reported (default 3)
#   DEID_BIN  the binary to measure (default: `cargo build --release` of this checkout)
#
# Data: benches/gen_tables.py writes a patients/encounters-like CSV (17 columns: mrn, names,
# SSN, DOB, address, ZIP, phone, e-mail, payer, lab value, a free-text note with
# identifiers in ~30 % of rows; RFC 4180 quoting with commas, "" and embedded newlines),
# its first quarter cut at a record boundary, and the same table as Parquet (all columns
# strings, snappy, row groups of 500k rows or ~64 MiB): bench-data/tables-<SIZE_MB>MiB-
# seed<SEED>.{csv,quarter.csv,parquet}. Parquet needs pyarrow, which this script installs
# into the venv bench-data/venv when it is missing there (PyPI, with pip).
#
# What it runs, each RUNS times on a warm page cache:
#   cat FILE.csv > /dev/null                               the read limit
#   csv-baseline FILE.csv                                  the `csv` crate (1.x) reading
#                                                          ByteRecords on one thread, counting
#                                                          records and fields: parse only
#   rg --no-unicode --count-matches -j1 -e … FILE.csv      7 simple patterns (SSN, phone,
#                                                          e-mail, date, IPv4, URL, ZIP)
#   deid scan --quiet --format jsonl -j1|-jN FILE.{csv,parquet} > /dev/null   bundled pack
#   deid redact --quiet -j1|-jN FILE.{csv,parquet} -o OUT
# then one more `deid scan -jN` on the full CSV and on its first quarter, sampling
# /proc/PID/status, to show that memory does not grow with the file. The baseline is a
# Cargo project that this script writes to bench-data/csv-baseline/ and builds there
# (release, CARGO_TARGET_DIR=bench-data/csv-baseline/target) on first use.
# deid's own chunked CSV reader, parse only, is measured by the criterion bench
# `cargo bench -p deid-tables --bench csv_reader`, not here.
#
# MB are 10^6 bytes OF THE CSV on every row, Parquet rows included: the Parquet file holds
# the same strings, so its rows compare work per byte of table text, not per byte of the
# compressed file. "MB/s/thread" divides by the threads asked for; "MB/cpu-s" divides by
# user+system CPU time, which is the honest per-core figure on a busy machine. deid exits 1
# when it finds PHI: that counts as success here (exit 2 fails the script).
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "$0")/common.sh"
label_width=36

# pyarrow, for the Parquet file only, in a venv of its own.
venv=$data/venv
if ! "$venv/bin/python" -c 'import pyarrow' 2> /dev/null; then
  echo "installing pyarrow into $venv …" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check pyarrow >&2
fi

base=$data/tables-${SIZE_MB}MiB-seed$SEED
file=$base.csv
quarter=$base.quarter.csv
parquet=$base.parquet
if [[ ! -s $file || ! -s $quarter ]]; then
  echo "generating $file, $quarter and $parquet …" >&2
  "$venv/bin/python" "$root/benches/gen_tables.py" "$file.tmp" "$SIZE_MB" --seed "$SEED" \
    --quarter "$quarter.tmp" --parquet "$parquet.tmp"
  mv "$quarter.tmp" "$quarter"
  mv "$parquet.tmp" "$parquet"
  mv "$file.tmp" "$file"
elif [[ ! -s $parquet ]]; then
  echo "generating $parquet …" >&2
  "$venv/bin/python" "$root/benches/gen_tables.py" "$file" "$SIZE_MB" --seed "$SEED" \
    --parquet "$parquet.tmp" --parquet-only
  mv "$parquet.tmp" "$parquet"
fi
bytes=$(stat -c %s "$file")
quarter_bytes=$(stat -c %s "$quarter")
parquet_bytes=$(stat -c %s "$parquet")
row_groups=$("$venv/bin/python" -c 'import sys, pyarrow.parquet as pq; m = pq.ParquetFile(sys.argv[1]).metadata; print(m.num_row_groups, m.num_rows)' "$parquet")

# The parse-only baseline: the `csv` crate, ByteRecord reused, one thread. Files are
# rewritten only when their text changes, so cargo rebuilds nothing on later runs.
baseline=$data/csv-baseline
mkdir -p "$baseline/src"
put() {
  # put FILE: stdin to FILE unless FILE already holds exactly that.
  cat > "$work/put"
  cmp -s "$work/put" "$1" || mv "$work/put" "$1"
}
put "$baseline/Cargo.toml" << 'EOF'
# Written by benches/tables.sh: the parse-only CSV baseline. Not part of the workspace.
[package]
name = "csv-baseline"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
csv = "1.3"

[profile.release]
codegen-units = 1
lto = true
debug = false

[workspace]
EOF
put "$baseline/src/main.rs" << 'EOF'
// Written by benches/tables.sh: read a CSV with the `csv` crate, one ByteRecord reused,
// on one thread, and print the number of records (header excluded) and of fields.
use std::{env, fs::File, process};

fn main() {
    let path = match env::args_os().nth(1) {
        Some(path) => path,
        None => {
            eprintln!("usage: csv-baseline FILE.csv");
            process::exit(2);
        }
    };
    let file = File::open(&path).unwrap_or_else(|e| {
        eprintln!("{}: {e}", path.to_string_lossy());
        process::exit(2);
    });
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .buffer_capacity(1 << 16)
        .from_reader(file);
    let mut record = csv::ByteRecord::new();
    let (mut records, mut fields, mut field_bytes) = (0u64, 0u64, 0u64);
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {
                records += 1;
                fields += record.len() as u64;
                field_bytes += record.as_slice().len() as u64;
            }
            Ok(false) => break,
            Err(e) => {
                eprintln!("{}: {e}", path.to_string_lossy());
                process::exit(2);
            }
        }
    }
    println!("{records} records, {fields} fields, {field_bytes} bytes of field text");
}
EOF
echo "building the csv baseline in $baseline …" >&2
CARGO_TARGET_DIR=$baseline/target cargo build --release --quiet --manifest-path "$baseline/Cargo.toml"
cp "$baseline/target/release/csv-baseline" "$work/csv-baseline"

# Before each timed run, the redact outputs of the previous one are removed.
before_run() { rm -f "$work"/redacted.*; }

print_header "deid tables throughput" "$(cargo --version)"
echo "csv:     $file"
echo "         $bytes bytes ($(awk -v b="$bytes" 'BEGIN { printf "%.1f MB", b / 1e6 }'), SIZE_MB=$SIZE_MB, seed $SEED)"
echo "parquet: $parquet"
echo "         $parquet_bytes bytes, ${row_groups#* } rows in ${row_groups%% *} row groups (a row group is deid's unit of parallel work)"
echo "$RUNS runs each, median shown; MB are 10^6 bytes of the CSV on every row, Parquet rows included"
print_load before
echo

warm "$file" "$parquet" "$quarter"

threads_list=(1)
((cores > 1)) && threads_list+=("$cores")
n=${threads_list[-1]}
declare -A w

table_header
measure "cat csv > /dev/null" 1 /dev/null -- cat "$file"
w[cat]=$wall
measure "csv crate ByteRecord (parse only)" 1 "$work/baseline" -- "$work/csv-baseline" "$file"
w[base]=$wall
measure "rg --no-unicode -j1 (7 patterns)" 1 "$work/rg1" -- rg --no-unicode --count-matches -j1 "${rg_patterns[@]}" "$file"
w[rg]=$wall
for j in "${threads_list[@]}"; do
  measure "deid scan csv -j$j" "$j" /dev/null -- "$deid" scan --quiet --format jsonl -j"$j" "$file"
  w[scan_csv_$j]=$wall
  if [[ $j == "$n" ]]; then scan_rss_full=$rss; fi
done
for j in "${threads_list[@]}"; do
  measure "deid scan parquet -j$j" "$j" /dev/null -- "$deid" scan --quiet --format jsonl -j"$j" "$parquet"
  w[scan_pq_$j]=$wall
done
for j in "${threads_list[@]}"; do
  measure "deid redact csv -j$j" "$j" /dev/null -- "$deid" redact --quiet -j"$j" "$file" -o "$work/redacted.csv"
  w[redact_csv_$j]=$wall
done
redacted_csv_bytes=$(stat -c %s "$work/redacted.csv")
for j in "${threads_list[@]}"; do
  measure "deid redact parquet -j$j" "$j" /dev/null -- "$deid" redact --quiet -j"$j" "$parquet" -o "$work/redacted.parquet"
  w[redact_pq_$j]=$wall
done
redacted_pq_bytes=$(stat -c %s "$work/redacted.parquet")

echo
echo "csv crate: $(cat "$work/baseline"); ripgrep matches: $(cat "$work/rg1")"
echo "redacted outputs: csv $redacted_csv_bytes bytes, parquet $redacted_pq_bytes bytes"
echo "deid's own chunked CSV reader, parse only: criterion bench \`cargo bench -p deid-tables --bench csv_reader\` (not run here)"
echo
echo "ratios (throughput, higher is faster):"
ratio "deid scan csv -j1 / csv crate parse" "${w[scan_csv_1]}" "${w[base]}" \
  "$(awk -v a="${w[scan_csv_1]}" -v b="${w[base]}" 'BEGIN { printf "(parsing alone is %.1fx faster than scanning)", a / b }')"
ratio "deid scan csv -j1 / rg -j1" "${w[scan_csv_1]}" "${w[rg]}" \
  "$(awk -v a="${w[scan_csv_1]}" -v b="${w[rg]}" 'BEGIN { printf "(rg is %.1fx faster on one thread)", a / b }')"
ratio "csv crate parse / cat" "${w[base]}" "${w[cat]}" ""
for j in "${threads_list[@]}"; do
  ratio "deid redact csv -j$j / scan csv -j$j" "${w[redact_csv_$j]}" "${w[scan_csv_$j]}" ""
  ratio "deid redact parquet -j$j / scan parquet -j$j" "${w[redact_pq_$j]}" "${w[scan_pq_$j]}" ""
done
for j in "${threads_list[@]}"; do
  ratio "deid scan parquet -j$j / scan csv -j$j" "${w[scan_pq_$j]}" "${w[scan_csv_$j]}" "(per byte of the CSV)"
done
if ((n > 1)); then
  ratio "deid scan csv -j$n / scan csv -j1" "${w[scan_csv_$n]}" "${w[scan_csv_1]}" "(parallel speed-up)"
  ratio "deid scan parquet -j$n / scan parquet -j1" "${w[scan_pq_$n]}" "${w[scan_pq_1]}" \
    "(parallel speed-up over ${row_groups%% *} row groups)"
fi

echo
memory_report "deid scan csv -j$n" "$n" "$scan_rss_full"
print_load after
