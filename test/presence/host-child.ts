/**
 * A presence host as its own process (what a daemon's main thread does, without FUSE):
 * `node host-child.js DEVICE LABEL [kernel]` (`kernel`: its slot says kernel mode, as a famfs-kernel
 * daemon's does). Prints one JSON line per event: joined, stale, rejoined.
 * SIGTERM: leave cleanly and exit.
 */
import { PresenceService } from '../../src/presence/service.js';

const [device, label, mode] = process.argv.slice(2);
if (device && label) {
  const say = (o: object): void => void process.stdout.write(`${JSON.stringify(o)}\n`);
  const svc = await PresenceService.start({ device, role: 'client', kernelMode: mode === 'kernel', threads: 2, label, log: (m) => say({ log: m }) });
  say({ joined: svc.host.slot, token: String(svc.host.token), pid: process.pid });
  let stale = false;
  let epoch = svc.control.epoch;
  setInterval(() => {
    const s = !svc.control.fresh();
    if (s && !stale) say({ stale: true });
    stale = s;
    if (svc.control.epoch !== epoch) {
      epoch = svc.control.epoch;
      say({ rejoined: svc.host.slot, token: String(svc.host.token), epoch });
    }
  }, 10);
  process.on('SIGTERM', () => void svc.stop().then(() => process.exit(0)));
}
