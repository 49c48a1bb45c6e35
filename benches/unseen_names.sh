#!/usr/bin/env bash
# How the bundled pack does on names, cities and counties its dictionaries have never seen.
#
#   benches/unseen_names.sh [--json]
#
# A labelled corpus shares many of its names with the bundled lists, so its scores say
# little about a hospital whose patients the lists do not know. This script takes every
# name, city and county of the dev notes' gold spans (and each of their words) out of
# rules/dict/{first-names,surnames,cities,counties}.txt, scans the dev notes with the
# bundled pack pointed at the reduced lists, and scores the result with
# ../shared/tools/score.py: what is still found is found from context, not memory.
# DEID_BIN picks the binary (default: a release build of this checkout).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${DEID_SHARED:-$root/../shared}
gold=$shared/corpora/dev/notes.jsonl
json=()
if [[ ${1:-} == --json ]]; then json=(--json); fi
if [[ -z ${DEID_BIN:-} ]]; then
  cargo build --release --quiet --manifest-path "$root/Cargo.toml"
  DEID_BIN=$root/target/release/deid
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$gold" "$root/rules/dict" "$work" <<'EOF'
import json, re, sys
gold, dicts, work = sys.argv[1:]
seen = set()
for line in open(gold, encoding="utf-8"):
    record = json.loads(line)
    text = record["text"].encode()
    for span in record.get("spans", []):
        if span["type"] in ("NAME", "CITY", "COUNTY"):
            value = text[span["start"]:span["end"]].decode(errors="replace").lower()
            seen.add(value)
            seen.update(re.findall(r"[\w'’-]+", value))
for name in ("first-names", "surnames", "cities", "counties"):
    entries = open(f"{dicts}/{name}.txt", encoding="utf-8").read().splitlines()
    kept = [entry for entry in entries if entry.lower() not in seen]
    open(f"{work}/{name}.txt", "w", encoding="utf-8").write("\n".join(kept) + "\n")
    print(f"{name}: {len(entries) - len(kept)} of {len(entries)} entries taken out", file=sys.stderr)
EOF
# The bundled pack as one file, its dictionaries read from the reduced lists.
for part in pack names dates contact ids places; do
  cat "$root/rules/safe-harbor/$part.toml"
  echo
done | sed -E "s#file = \"../dict/(first-names|surnames|cities|counties).txt\"#file = \"$work/\\1.txt\"#; s#file = \"../dict/#file = \"$root/rules/dict/#" > "$work/pack.toml"
args=(--quiet --field text --no-bundled --rules "$work/pack.toml")
"$DEID_BIN" scan "${args[@]}" --format jsonl "$gold" > "$work/findings.jsonl" || [[ $? == 1 ]]
"$DEID_BIN" redact "${args[@]}" "$gold" -o "$work/redacted.jsonl" 2> /dev/null || [[ $? == 1 ]]
python3 "$shared/tools/score.py" notes "$gold" --findings "$work/findings.jsonl" \
  --redacted "$work/redacted.jsonl" "${json[@]}"
