#!/bin/sh
# Run the multi-host famfs test: qemu guests sharing one devdax (see docs/multihost.md).
#   scripts/vm-multihost.sh            two hosts (A master, B client)
#   scripts/vm-multihost.sh --three    also three hosts (A, B, C)
# Needs root and: apt-get install -y qemu-system-x86 linux-image-amd64 busybox-static ndctl daxctl cpio kmod xz-utils
# Kernel, initramfs and devdax image are cached in ${FAMFS_VM_CACHE:-/var/tmp/famfs-vm};
# a failed run keeps its guest logs in $FAMFS_VM_CACHE/runs/.
set -e
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--three" ]; then export FAMFS_VM_THREE=1; fi
command -v qemu-system-x86_64 >/dev/null || echo "qemu-system-x86_64 missing: the test will skip (see the apt-get line in $0)" >&2
npx tsc -p .
exec node --test dist/test/vm/
