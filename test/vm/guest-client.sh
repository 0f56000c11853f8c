# A client host: mount as soon as A has formatted, follow the log, check every
# file, verify the big one, try (and fail) to change metadata, write file
# bytes, and see the re-format as ESTALE.
# Expects: DEV MNT FIX MANIFEST SEED WAIT TOFF MOFF
# Mailbox (tree/sync/mailbox, 16 bytes per client at MOFF): "<ME>-DONE" once
# our bytes are in target.bin, "<ME>-VRFY" at MOFF+8 once big.rnd is verified
# (A re-formats only after every client verified).
client_mount

# 4a. (while A is still populating) the CLI refuses every metadata change on a client;
#     A checks at the end that the log holds exactly its own entries
expect_fail "client.*only the master" famfs mkdir "$MNT/nope.d"
expect_fail "client.*only the master" famfs creat -s 2m "$MNT/nope.bin"
expect_fail "client.*only the master" famfs cp "$FIX/tree/hello.txt" "$MNT/nope.txt"
status_is mountpoint "$MNT" device "$DEV" role client

# 2. no logplay: the mount follows A's log by itself
run gt check-tree "$MANIFEST" "$MNT" "$WAIT"

# 4b. metadata changes through the mount are refused (with clear errors) and change nothing
meta_before=$(meta_sum) || die "cannot read .meta"
expect_fail "read-only file system" mkdir "$MNT/nope2.d"
expect_fail "not supported|read-only|not permitted" touch "$MNT/nope3"
expect_fail "permission denied|not permitted|read-only" sh -c "printf X | dd of=$MNT/.meta/.log bs=1 seek=4096 conv=notrunc"
# writes back the bytes that are there: harmless even if it wrongly succeeds
expect_fail "permission denied|not permitted|read-only" sh -c "head -c 8 $MNT/.meta/.superblock | dd of=$MNT/.meta/.superblock conv=notrunc"
expect_fail "not permitted|read-only" rm "$MNT/tree/hello.txt"
expect_fail "not permitted|read-only" mv "$MNT/tree/hello.txt" "$MNT/tree/moved.txt"
expect_fail "not permitted" truncate -s 1 "$MNT/tree/hello.txt"
expect_fail "not permitted" chmod 0777 "$MNT/tree/hello.txt"
meta_after=$(meta_sum)
[ "$meta_before" = "$meta_after" ] && log ".meta/.superblock and .meta/.log unchanged" || fail ".meta changed: $meta_before -> $meta_after"

# 3. write into an existing file's bytes, then tell A
post_write
log "wrote target.bin at $TOFF and posted $ME-DONE"

# 2b. the interleaved random file
post_verified

# 6. (issue 14) stream whole reads of model.bin while A replaces it; only whole generations
[ "$REPLACE_COUNT" -gt 0 ] && run gt stream-gens "$MNT/model.bin" "$MNT/tree/sync/mailbox" $((2048 + MOFF)) 3072 "$WAIT" "$REPLACE_COUNT"

# 5. A re-formats the device: this mount must refuse its stale maps
run gt wait-errno "$MNT/tree/hello.txt" ESTALE "$WAIT"
expect_fail "stale" ls "$MNT"
expect_fail "stale" head -c 16 "$MNT/big.rnd"
expect_fail "stale" dd if="$MNT/tree/target.bin" bs=16 count=1
grep -q "superblock changed" "$DAEMON_LOG" && log "daemon log: $(grep "superblock changed" "$DAEMON_LOG")" || fail "the daemon did not log the re-format"
run famfs umount "$MNT"
finish
