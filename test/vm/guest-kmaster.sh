# Host A on the famfs kernel, master in kernel mode: format, mount (auto picks kernel mode and
# binds the device to fsdev_dax), populate through the CLI (data through the mounted files, the
# log through .meta/.log), wait for the clients, read back what they stored, unmount (the
# device goes back to device_dax). The file system has deletes (and so the presence area); with a kernel-mode
# client (KCLIENTS) A deletes a file that client maps (guest-kdelete.ts).
# Expects: DEV MNT FIX MANIFEST SEED BIG_SIZE CLIENTS KCLIENTS WAIT NFILES NDIRS TARGET_SHA, CLIENT_<name>_MOFF.
# A long lease: TCG guests on a loaded machine may stall for seconds.
run famfs mkfs --features delete --lease 60s "$DEV" >/dev/null
run famfs mount --log "$DAEMON_LOG" "$DEV" "$MNT"
status_is mountpoint "$MNT" role master dataPath kernel daxDriver fsdev_dax
expect_fail "bound to fsdev_dax.*famfs daxdev --mode devdax" famfs ls --device "$DEV"
run famfs mkdir -p "$MNT/x/y/z"
run mkdir "$MNT/viamount"
run famfs cp -r -u 1001 -g 1002 "$FIX/tree" "$MNT/"
run famfs creat -s "$BIG_SIZE" -r -S "$SEED" -N 2 -B 4 "$MNT/big.rnd"
expect_fail "not supported" touch "$MNT/nope"
log "file system populated; waiting for: $CLIENTS"
for c in $CLIENTS; do
  eval "moff=\$CLIENT_${c}_MOFF"
  run gt wait-bytes "$MNT/tree/sync/mailbox" "$moff" "$c-DONE" "$WAIT"
done
got=$(sha256sum < "$MNT/tree/target.bin" | cut -d' ' -f1)
[ "$got" = "$TARGET_SHA" ] && log "read(2) of tree/target.bin has every client's store" || fail "target.bin through read(2): sha256 $got, expected $TARGET_SHA"
got=$(gt mmap-sha256 "$MNT/tree/target.bin")
[ "$got" = "$TARGET_SHA" ] && log "mmap of tree/target.bin has every client's store" || fail "target.bin through mmap: sha256 $got, expected $TARGET_SHA"
out=$(famfs fsck "$MNT" 2>&1) || fail "famfs fsck failed: $out"
for want in "role of this node: Owner" "No allocation errors found" "$NFILES files" "$NDIRS directories" "0 bad log entries detected"; do
  printf '%s\n' "$out" | grep -qE "^ *$want\$" || fail "famfs fsck: no '$want' in: $out"
done
[ -e "$MNT/nope" ] && fail "nope exists"
if [ -n "$KCLIENTS" ]; then
  run famfs mkdir "$MNT/del"
  run famfs creat -s 2097152 "$MNT/del/mbox"
  run famfs creat -s 4194304 -r -S 77 "$MNT/del/victim.bin"
fi
for c in $CLIENTS; do
  eval "moff=\$CLIENT_${c}_MOFF"
  run gt wait-bytes "$MNT/tree/sync/mailbox" $((moff + 8)) "$c-VRFY" "$WAIT"
done
if [ -n "$KCLIENTS" ]; then
  run gt kdel-master "$MNT" "$DEV" "$WAIT"
  grep 'presence:' "$DAEMON_LOG" | sed 's/^/    | /'
fi
run famfs umount "$MNT"
out=$(famfs daxdev "$DEV")
[ "$out" = "$DEV: devdax (driver device_dax)" ] && log "after umount: $out" || fail "after umount the device is not back in devdax: $out"
run famfs ls --device "$DEV" >/dev/null
finish
