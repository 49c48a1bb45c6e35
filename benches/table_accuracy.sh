#!/usr/bin/env bash
# Accuracy of the table path on every labelled table corpus, in one command.
#
#   benches/table_accuracy.sh [CORPUS_NAME…]    (default: dev synthea-nebraska fakenamegenerator)
#
# For each corpus it runs `deid classify`, `deid scan` and `deid redact` on the CSV tables
# and scores them with ../shared/tools/score.py: column labels (PHI-column recall, type
# accuracy, non-PHI columns labelled PHI) and cell findings in FREE_TEXT columns. score.py
# has no leak rate for tables, so the free-text cells are also turned into a notes corpus
# (one document per gold FREE_TEXT cell, `table:row:column`) and the redacted cells into its
# redacted counterpart, and `score.py notes` measures the token leak rate as for notes.
# DEID_BIN picks the binary (default: a release build of this checkout).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${DEID_SHARED:-$root/../shared}
score=$shared/tools/score.py
if [[ -z ${DEID_BIN:-} ]]; then
  cargo build --release --quiet --manifest-path "$root/Cargo.toml"
  DEID_BIN=$root/target/release/deid
fi
declare -A corpora=(
  [dev]=$shared/corpora/dev
  [synthea-nebraska]=$shared/corpora/public/synthea-nebraska
  [fakenamegenerator]=$shared/corpora/public/fakenamegenerator
)
names=("$@")
if [[ ${#names[@]} -eq 0 ]]; then names=(dev synthea-nebraska fakenamegenerator); fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for name in "${names[@]}"; do
  dir=${corpora[$name]:?unknown corpus $name}
  tables=("$dir"/*.csv)
  "$DEID_BIN" classify --quiet --format json "${tables[@]}" > "$out/$name.classes.json" || [[ $? == 1 ]]
  "$DEID_BIN" scan --quiet --format jsonl "${tables[@]}" > "$out/$name.findings.jsonl" || [[ $? == 1 ]]
  mkdir -p "$out/$name.redacted"
  "$DEID_BIN" redact --quiet "${tables[@]}" -o "$out/$name.redacted"
  echo "== $name"
  python3 "$score" tables "$dir" --classes "$out/$name.classes.json" --findings "$out/$name.findings.jsonl"
  python3 "$root/benches/table_cells.py" "$dir" "$out/$name.redacted" "$out/$name.cells"
  if [[ -s $out/$name.cells.gold.jsonl ]]; then
    echo "-- free-text cells as notes (leak rate)"
    python3 "$score" notes "$out/$name.cells.gold.jsonl" --redacted "$out/$name.cells.redacted.jsonl" | grep -E "leak|over_redaction"
  fi
done
