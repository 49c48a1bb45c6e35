#!/usr/bin/env bash
# The export gate on one 1 GiB request: submit (upload, hash, store), scan, approve, and
# release to a local folder and to Azure Blob storage (Azurite), timed end to end.
#
# Usage: sudo benches/gate.sh        (root: it creates two users, deid-bench-sub and
#                                     deid-bench-rev, since a submitter may not review)
# Environment: SIZE_MB (default 1024), DEID_BIN (default: a release build of this checkout).
# Data: the synthetic notes of benches/gen_notes.py (seeded), repeated to SIZE_MB; they carry
# identifiers, so the request is flagged and approved with --override.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
SIZE_MB=${SIZE_MB:-1024}
((EUID == 0)) || { echo "benches/gate.sh: run as root (it creates the bench users)" >&2; exit 2; }

if [[ -z ${DEID_BIN:-} ]]; then
  cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin deid
  DEID_BIN=$root/target/release/deid
fi
work=$(mktemp -d)
chmod 755 "$work"
cleanup() {
  pkill -f "$work/deid gate serve" 2> /dev/null || true
  [[ -n ${azurite_pid:-} ]] && kill "$azurite_pid" 2> /dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cp "$DEID_BIN" "$work/deid"
deid=$work/deid
for user in deid-bench-sub deid-bench-rev; do
  id "$user" > /dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
done

# The request: SIZE_MB of notes.
data=$root/bench-data
mkdir -p "$data"
piece=$data/notes-256MiB-seed20240901.txt
[[ -s $piece ]] || python3 "$root/benches/gen_notes.py" "$piece" 256 --seed 20240901
request=$work/notes-${SIZE_MB}MiB.txt
while (($(stat -c %s "$request" 2> /dev/null || echo 0) < SIZE_MB * 1048576)); do
  cat "$piece" >> "$request"
done
truncate -s "$((SIZE_MB * 1048576))" "$request"
chmod 644 "$request"
bytes=$(stat -c %s "$request")

as() { runuser -u "$1" -- "${@:2}"; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'; }

# run_gate NAME DEST [OPTIONS…]: a gate releasing to DEST; submit, review, release; report.
run_gate() {
  local name=$1 dest=$2 gate=$work/$1 t0 t1 t2 t3 id
  shift 2
  "$deid" gate init "$gate" --release-to "$dest" "$@" 2> /dev/null
  "$deid" gate serve --gate "$gate" 2> "$work/$name.log" &
  until [[ -S $gate/gate.sock ]]; do sleep 0.1; done
  "$deid" gate role add deid-bench-rev --reviewer --gate "$gate" 2> /dev/null
  t0=$(date +%s%N)
  id=$(as deid-bench-sub "$deid" gate submit --gate "$gate" --reason bench --format json "$request" | awk -F'[:,]' '/"id"/ { gsub(/ /, "", $2); print $2; exit }')
  t1=$(date +%s%N)
  as deid-bench-rev "$deid" gate review "$id" --gate "$gate" --approve --override --reason bench 2> /dev/null
  t2=$(date +%s%N)
  as deid-bench-sub "$deid" gate release "$id" --gate "$gate" > /dev/null 2>&1
  t3=$(date +%s%N)
  printf '%-28s %8s %10s %10s %10s %10s %10s\n' "$name" "$(seconds "$t0" "$t1")" \
    "$(sed -n 's/.*stored and hashed in \([0-9.]*\) s.*/\1/p' "$work/$name.log")" \
    "$(sed -n 's/.*scanned in \([0-9.]*\) s.*/\1/p' "$work/$name.log")" \
    "$(seconds "$t1" "$t2")" "$(seconds "$t2" "$t3")" \
    "$(awk -v b="$bytes" -v a="$t2" -v c="$t3" 'BEGIN { printf "%.0f", b / 1e6 / ((c - a) / 1e9) }')"
  pkill -f "$deid gate serve --gate $gate" || true
}

echo "deid export gate, one request of $((bytes / 1048576)) MiB — $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores, $(uname -sr); deid $(git -C "$root" rev-parse --short HEAD)"
printf '%-28s %8s %10s %10s %10s %10s %10s\n' destination 'submit s' 'store s' 'scan s' 'review s' 'release s' 'rel MB/s'
release=$work/released
mkdir -m 755 "$release"
run_gate folder "$release"

# Azurite, from the pinned npm install (tools/azurite), on a free port.
azurite=$root/tools/azurite/node_modules/.bin/azurite-blob
[[ -x $azurite ]] || npm ci --silent --prefix "$root/tools/azurite" > /dev/null
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$azurite" --blobHost 127.0.0.1 --blobPort "$port" --location "$work/azurite" --silent --skipApiVersionCheck --loose --disableTelemetry > /dev/null 2>&1 &
azurite_pid=$!
until (echo > "/dev/tcp/127.0.0.1/$port") 2> /dev/null; do sleep 0.2; done
# The emulator's well-known account (public, documented by Microsoft).
account=devstoreaccount1
key='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
endpoint=http://127.0.0.1:$port/$account
when=$(TZ=GMT date '+%a, %d %b %Y %H:%M:%S GMT')
version=2021-08-06
signature=$(printf 'PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:%s\nx-ms-version:%s\n/%s/%s/bench\nrestype:container' "$when" "$version" "$account" "$account" |
  openssl dgst -sha256 -mac HMAC -macopt "hexkey:$(printf '%s' "$key" | base64 -d | xxd -p -c 256)" -binary | base64)
curl -sf -X PUT "$endpoint/bench?restype=container" -H "x-ms-date: $when" -H "x-ms-version: $version" \
  -H "Content-Length: 0" -H "Authorization: SharedKey $account:$signature" > /dev/null
run_gate azurite az://bench/released --release-option "azure_storage_account_name=$account" \
  --release-option "azure_storage_account_key=$key" --release-option "azure_storage_endpoint=$endpoint" \
  --release-option allow_http=true
echo "submit = upload + store + hash + scan, as the submitter waits for it; release re-hashes the stored copy, then copies it"
