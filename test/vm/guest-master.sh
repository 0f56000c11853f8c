# Host A, the master: format, mount, populate; wait for the clients; check what
# they wrote and that they changed nothing else; re-format under them.
# Expects (from the harness): DEV MNT FIX MANIFEST SEED BIG_SIZE CLIENTS WAIT
#   NFILES NDIRS TARGET_SHA and per client CLIENT_<name>_TOFF / _MOFF.
run famfs mkfs $MKFS_ARGS "$DEV" >/dev/null
run famfs mount --log "$DAEMON_LOG" "$DEV" "$MNT"
run famfs mkdir -p "$MNT/x/y/z"
run famfs cp -r -u 1001 -g 1002 "$FIX/tree" "$MNT/"
run famfs creat -s "$BIG_SIZE" -r -S "$SEED" -N 2 -B 4 "$MNT/big.rnd"
log "file system populated; waiting for: $CLIENTS"
meta_before=$(meta_sum) || die "cannot read .meta"
status_is mountpoint "$MNT" device "$DEV" role master

# 3. the clients write into tree/target.bin, then post "<name>-DONE" in tree/sync/mailbox
#    (and "<name>-VRFY" 8 bytes further once they verified big.rnd)
for c in $CLIENTS; do
  eval "moff=\$CLIENT_${c}_MOFF"
  run gt wait-bytes "$MNT/tree/sync/mailbox" "$moff" "$c-DONE" "$WAIT"
done
for c in $CLIENTS; do
  eval "toff=\$CLIENT_${c}_TOFF"
  want="$c was here"
  got=$(dd if="$MNT/tree/target.bin" bs=1 skip="$toff" count=${#want} 2>/dev/null)
  [ "$got" = "$want" ] && log "read through our mount at $toff: '$got'" || fail "at $toff in target.bin: '$got', expected '$want'"
done
got=$(sha256sum < "$MNT/tree/target.bin" | cut -d' ' -f1)
[ "$got" = "$TARGET_SHA" ] || fail "target.bin through the mount: sha256 $got, expected $TARGET_SHA"
got=$(famfs cat "$MNT/tree/target.bin" | sha256sum | cut -d' ' -f1)
[ "$got" = "$TARGET_SHA" ] && log "famfs cat tree/target.bin has every client's bytes" || fail "famfs cat target.bin: sha256 $got, expected $TARGET_SHA"

# 4. the clients changed no metadata
meta_after=$(meta_sum)
[ "$meta_before" = "$meta_after" ] && log ".meta/.superblock and .meta/.log unchanged" || fail ".meta changed while the clients ran: $meta_before -> $meta_after"
out=$(famfs fsck "$MNT" 2>&1) || fail "famfs fsck failed: $out"
for want in "role of this node: Owner" "No allocation errors found" "$NFILES files" "$NDIRS directories" "0 bad log entries detected" "0 entries refused by replay"; do
  printf '%s\n' "$out" | grep -qE "^ *$want\$" || fail "famfs fsck: no '$want' in: $out"
done
log "fsck clean: $NFILES files, $NDIRS directories, no bad or refused entries"
for p in nope.d nope.bin nope.txt nope2.d nope3; do [ -e "$MNT/$p" ] && fail "$p exists: a client created it"; done

# 5. re-format while the clients are still mounted (once each verified big.rnd)
for c in $CLIENTS; do
  eval "moff=\$CLIENT_${c}_MOFF"
  run gt wait-bytes "$MNT/tree/sync/mailbox" $((moff + 8)) "$c-VRFY" "$WAIT"
done

# 6. (issue 14, when this build has deletes) replace model.bin REPLACE_COUNT times with
#    `write new + rename over` while every client streams reads of the copy it has open
if [ "$REPLACE_COUNT" -gt 0 ]; then
  waits=""
  for c in $CLIENTS; do
    eval "moff=\$CLIENT_${c}_MOFF"
    waits="$waits${waits:+,}$((2048 + moff)):$c-OPEN"
  done
  run gt replace-loop "$MNT" model.bin "$REPLACE_COUNT" "$REPLACE_SIZE" "$MNT/tree/sync/mailbox" "$waits" 3072 "$WAIT"
  out=$(famfs fsck "$MNT" 2>&1) || fail "famfs fsck after the replaces failed: $out"
fi
run famfs umount "$MNT"
run famfs mkfs --force "$DEV" >/dev/null
log "re-formatted $DEV under the clients"
finish
