# A client of a kernel-mode master: on the famfs kernel (EXPECT_PATH=kernel, kernel mode too)
# or on the stock kernel (EXPECT_PATH=daemon). Sees A's files by itself, reads and maps the
# same bytes, stores into target.bin (through mmap in kernel mode, write(2) otherwise: a
# daemon-mode mmap is page cache, not shared), verifies the interleaved file; in kernel mode,
# maps a file A then deletes (guest-kdelete.ts).
# Expects: DEV MNT MANIFEST SEED WAIT TOFF MOFF EXPECT_PATH
client_mount
status_is mountpoint "$MNT" role client dataPath "$EXPECT_PATH"
DPID=$(famfs status --json 2>/dev/null | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' | head -1)
run gt check-tree "$MANIFEST" "$MNT" "$WAIT"
# A daemon-mode mmap needs FUSE_DIRECT_IO_ALLOW_MMAP (Linux 6.6+); the stock guest kernel is older.
[ "$EXPECT_PATH" = kernel ] && run gt check-mmap "$MANIFEST" "$MNT"
expect_fail "client.*only the master" famfs mkdir "$MNT/nope.d"
if [ "$EXPECT_PATH" = kernel ]; then
  run gt mmap-write "$MNT/tree/target.bin" "$TOFF" "$ME was here"
  run gt mmap-write "$MNT/tree/sync/mailbox" "$MOFF" "$ME-DONE"
else
  post_write
fi
post_verified
if [ "$EXPECT_PATH" = kernel ]; then
  # A deletes a file this guest maps: held until the munmap, not at the last close (guest-kdelete.ts).
  run gt kdel-client "$MNT" "$WAIT"
  # Observed, not asserted: the kernel evicts the deleted inode (FORGET) after the munmap.
  i=0; until grep -q 'kernel dropped deleted file' "$DAEMON_LOG" || [ $i -ge 50 ]; do sleep 0.2; i=$((i + 1)); done
  grep 'presence:' "$DAEMON_LOG" | sed 's/^/    | /'
fi
run famfs umount "$MNT"
# The daemon leaves its presence slot on its way out: let it, before this guest powers off.
i=0; while [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.2; i=$((i + 1)); done
if [ "$EXPECT_PATH" = kernel ]; then
  out=$(famfs daxdev "$DEV")
  [ "$out" = "$DEV: devdax (driver device_dax)" ] && log "after umount: $out" || fail "after umount the device is not back in devdax: $out"
fi
finish
