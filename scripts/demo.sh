#!/usr/bin/env bash
# famfs demo on a file-backed device: format, mkdir, creat + verify, cp a tree,
# list, getmap, fsck. Run by `npm run demo` (after `tsc -p .`).
#
#   FAMFS_DEMO_DEV=/dev/shm/x.img  device file (default /dev/shm/famfs-demo-$$.img)
#   FAMFS_SYSTEM_UUID_FILE=...     this host's system UUID (default: a temp file)
#   KEEP=1                         keep the device at the end
#   FORCE=1                        reformat FAMFS_DEMO_DEV even if it already exists
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FAMFS=(node "$REPO/bin/famfs.js")
DEV="${FAMFS_DEMO_DEV:-/dev/shm/famfs-demo-$$.img}"
OWN_DEV=0
TMP="$(mktemp -d "${TMPDIR:-/tmp}/famfs-demo.XXXXXX")"

if [[ -z "${FAMFS_SYSTEM_UUID_FILE:-}" ]]; then
  export FAMFS_SYSTEM_UUID_FILE="$TMP/system_uuid"
fi

cleanup() {
  local rc=$?
  if [[ "$OWN_DEV" != 1 ]]; then
    :  # never touch a device this run did not format
  elif [[ "${KEEP:-0}" == 1 ]]; then
    echo "== KEEP=1: leaving $DEV"
    if [[ "$FAMFS_SYSTEM_UUID_FILE" == "$TMP/"* && -f "$FAMFS_SYSTEM_UUID_FILE" ]]; then
      # the temp UUID file is what makes this host the master of the kept device
      cp "$FAMFS_SYSTEM_UUID_FILE" "$DEV.system_uuid"
      echo "   its master's system UUID is in $DEV.system_uuid"
    fi
  else
    rm -f "$DEV"
  fi
  rm -rf "$TMP"
  if [[ $rc -ne 0 ]]; then echo "== demo FAILED (exit $rc)" >&2; fi
  exit $rc
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
run() { printf '$ famfs %s\n' "$*"; "${FAMFS[@]}" "$@"; }

if [[ ! -f "$REPO/dist/src/cli/main.js" ]]; then
  echo "dist/ is missing: run 'npx tsc -p .' (npm run demo does) first" >&2
  exit 1
fi
if [[ -e "$DEV" && ! -f "$DEV" ]]; then
  echo "$DEV exists and is not a regular file; set FAMFS_DEMO_DEV to a file path" >&2
  exit 1
fi
if [[ -e "$DEV" && "${FORCE:-0}" != 1 ]]; then
  echo "$DEV already exists; FORCE=1 reformats it" >&2
  exit 1
fi

step "Format a 4 GiB sparse device file $DEV (this host becomes the master)"
echo "   system UUID file: $FAMFS_SYSTEM_UUID_FILE"
OWN_DEV=1
run mkfs --force --size 4g "$DEV" | sed -n '1,6p'
ls -ls "$DEV"

step "Make directories"
run mkdir -d "$DEV" -p data/inputs
run mkdir -d "$DEV" -p data/outputs
run mkdir -d "$DEV" -m 0700 private

step "Create a 64 MiB file filled with the PRNG stream of seed 42, then verify it"
run creat -d "$DEV" -s 64m -r -S 42 data/inputs/random.bin
run verify -d "$DEV" -S 42 data/inputs/random.bin
echo "   (verifying with the wrong seed must fail:)"
if "${FAMFS[@]}" verify -d "$DEV" -S 43 data/inputs/random.bin; then
  echo "   verify with the wrong seed succeeded: that is a bug" >&2
  exit 1
fi

step "Create an interleaved file: 2 strips over 4 buckets, 2 MiB chunks"
run creat -d "$DEV" -s 32m -N 2 -B 4 -C 2m -r -S 7 data/inputs/striped.bin
run verify -d "$DEV" -S 7 data/inputs/striped.bin

step "Copy a small tree into famfs (the repository's src/)"
run cp -d "$DEV" -r "$REPO/src" data/src
n_host=$(find "$REPO/src" -type f | wc -l)
n_famfs=$("${FAMFS[@]}" ls -d "$DEV" --json -R data/src | grep -c '"type": "file"')
echo "   $n_host files on the host, $n_famfs in famfs"
one=$(cd "$REPO/src" && find . -type f -name '*.ts' | sort | head -1 | sed 's|^\./||')
if "${FAMFS[@]}" cat -d "$DEV" "data/src/$one" | cmp -s - "$REPO/src/$one"; then
  echo "   data/src/$one is byte-identical to the original"
else
  echo "   data/src/$one differs from the original" >&2
  exit 1
fi

step "List everything"
run ls -d "$DEV" -lR

step "Where one file lives on the device"
run getmap -d "$DEV" data/inputs/striped.bin
run getmap -d "$DEV" "data/src/$one"

step "Check the file system"
run fsck -d "$DEV"

step "Done"
if [[ "${KEEP:-0}" == 1 ]]; then
  uuidf="$FAMFS_SYSTEM_UUID_FILE"; [[ "$uuidf" == "$TMP/"* ]] && uuidf="$DEV.system_uuid"
  echo "   try: FAMFS_SYSTEM_UUID_FILE=$uuidf node bin/famfs.js ls -lR -d $DEV"
else
  echo "   removing $DEV (KEEP=1 keeps it)"
fi
