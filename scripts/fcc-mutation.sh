#!/usr/bin/env bash
# Mutation check for cache coherency: remove each write-back / invalidate call
# site (the lines marked `// fcc-site: NAME` in src/) in turn from a copy of the
# build, run the non-coherent tests on the simulated device, and report which
# test caught the removal. A site nobody catches is listed as MISSED.
#   bash scripts/fcc-mutation.sh [SITE...]      (after `npx tsc -p .`; root, /dev/fuse)
set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/famfs-fcc-mutation.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -r "$repo/dist" "$repo/bin" "$repo/package.json" "$work/"
ln -s "$repo/node_modules" "$work/node_modules"
tests=(dist/test/coherency/noncoherent.test.js dist/test/coherency/sim-properties.test.js dist/test/coherency/sim-mounted.test.js)
if [ $# -gt 0 ]; then sites=("$@"); else mapfile -t sites < <(grep -rhoE 'fcc-site: [a-z0-9-]+' "$repo/src" | sed 's/fcc-site: //' | sort -u); fi
missed=0
for site in "${sites[@]}"; do
  file=$(grep -rl -- "// fcc-site: $site\$" "$work/dist/src" | head -1)
  if [ -z "$file" ]; then echo "$site: NOT FOUND in dist"; missed=$((missed + 1)); continue; fi
  cp "$file" "$file.orig"
  sed -i -E "s#^([[:space:]]*).*// fcc-site: $site\$#\1; // fcc-site: $site (removed)#" "$file"
  caught=""
  for t in "${tests[@]}"; do
    out=$(cd "$work" && timeout 600 node --test --test-concurrency=1 "$t" 2>&1)
    if [ $? -ne 0 ]; then
      caught="$(basename "$t" .test.js): $(printf '%s\n' "$out" | grep -E '^ +not ok' | head -1 | sed -E 's/^ +not ok [0-9]+ - //')"
      break
    fi
  done
  mv "$file.orig" "$file"
  if [ -n "$caught" ]; then echo "$site: caught by $caught"; else echo "$site: MISSED"; missed=$((missed + 1)); fi
done
echo "sites: ${#sites[@]}, missed: $missed"
[ "$missed" -eq 0 ]
