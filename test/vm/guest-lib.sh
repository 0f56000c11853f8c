# Helpers for the guest scripts (sourced by the harness-made script in every guest).
# Expects: ME, REPO (checkout whose bin/famfs.js and dist/ we run).
T0=$(date +%s%N)
FAILS=0
log() { echo "[$ME $(( ($(date +%s%N) - T0) / 1000000 )) ms] $*"; }
famfs() { node "$REPO/bin/famfs.js" "$@"; }
gt() { node "$REPO/dist/test/vm/guest-tool.js" "$@"; }
DAEMON_LOG=/run/famfs-daemon.log
show_daemon_log() { [ -s "$DAEMON_LOG" ] && { log "famfs daemon log ($DAEMON_LOG):"; sed 's/^/    | /' "$DAEMON_LOG"; }; }
die() { log "FATAL: $*"; show_daemon_log; exit 1; }
fail() { log "FAIL: $*"; FAILS=$((FAILS + 1)); }
# run CMD...: log it, run it, abort the guest if it fails
run() {
  log "\$ $*"
  "$@" || die "exit code $?: $*"
}
# expect_fail REGEX CMD...: CMD must fail, and its output must match REGEX (case-insensitive)
expect_fail() {
  pat=$1; shift
  out=$("$@" 2>&1); rc=$?
  first=$(printf '%s\n' "$out" | grep -v '^$' | tail -1)
  if [ $rc -eq 0 ]; then fail "succeeded but must fail: $* (output: $first)"
  elif ! printf '%s' "$out" | grep -qiE "$pat"; then fail "failed ($rc) without /$pat/: $* -> $out"
  else log "refused as expected: $* -> $first"
  fi
}
# status_is KEY VALUE...: this guest's one famfs mount has "KEY": "VALUE" for each pair in `famfs status --json`
status_is() {
  st=$(famfs status --json 2>&1)
  while [ $# -ge 2 ]; do
    printf '%s\n' "$st" | grep -q "\"$1\": \"$2\"" || { fail "famfs status: no $1=$2 in: $st"; return 1; }
    shift 2
  done
  log "famfs status: $(printf '%s' "$st" | tr -d ' \n' | cut -c1-200)"
}
# sha256 of the superblock (below the presence area at 1 MiB, where every host's heartbeat
# ticks on a file system with deletes) and of the log: what only the master may change
meta_sum() {
  { head -c 1048576 "$MNT/.meta/.superblock" && cat "$MNT/.meta/.log"; } | sha256sum | cut -d' ' -f1
}
# client_mount: (a client) wait for A's superblock, then mount; A may still be formatting, so retry
client_mount() {
  run gt wait-superblock "$DEV" "$WAIT"
  i=0
  until out=$(famfs mount --log "$DAEMON_LOG" "$DEV" "$MNT" 2>&1); do
    i=$((i + 1)); [ $i -ge 10 ] && die "famfs mount: $out"
    sleep 0.3
  done
  log "mounted (attempt $((i + 1)))"
}
# post_write: (a client) write "<ME> was here" at TOFF of tree/target.bin with write(2), then post "<ME>-DONE"
post_write() {
  printf '%s' "$ME was here" | dd of="$MNT/tree/target.bin" bs=1 seek="$TOFF" conv=notrunc 2>/dev/null || fail "writing target.bin failed"
  printf '%s' "$ME-DONE" | dd of="$MNT/tree/sync/mailbox" bs=1 seek="$MOFF" conv=notrunc 2>/dev/null || die "writing the mailbox failed"
}
# post_verified: (a client) verify big.rnd, then post "<ME>-VRFY" (A re-formats only after every client verified)
post_verified() {
  run famfs verify -S "$SEED" "$MNT/big.rnd"
  printf '%s' "$ME-VRFY" | dd of="$MNT/tree/sync/mailbox" bs=1 seek=$((MOFF + 8)) conv=notrunc 2>/dev/null || die "writing the mailbox failed"
}
finish() {
  if [ "$FAILS" -ne 0 ]; then log "$FAILS check(s) failed"; show_daemon_log; exit 1; fi
  log "all checks passed"
  exit 0
}
mkdir -p "$(dirname "$FAMFS_SYSTEM_UUID_FILE")"
printf '%s\0' "$SYSTEM_UUID" > "$FAMFS_SYSTEM_UUID_FILE"
log "host $ME: system uuid $SYSTEM_UUID, kernel $(uname -r), $(ls -l /dev/dax0.0 2>&1)"
[ -c /dev/dax0.0 ] || die "no /dev/dax0.0 in this guest"
