/** `famfs hosts`: the presence area — every mounted host's slot, liveness and holds; `--evict SLOT`. */
import type { Command } from 'commander';
import { Device } from '../device/device.js';
import { PRESENCE_OFFSET, PRESENCE_SIZE, PRESENCE_SLOTS } from '../format/constants.js';
import { hasFeature, leaseMsOf, PRESENCE } from '../format/features.js';
import { FamfsError } from '../api/errors.js';
import { PresenceArea } from '../presence/area.js';
import { evictSlot, watchHosts, type HostRow } from '../presence/evict.js';
import { printJson, targetOrDevice, withTarget } from './context.js';

function rowJson(r: HostRow): Record<string, unknown> {
  return {
    slot: r.index, state: r.state, liveness: r.liveness, label: r.label, role: r.role, pid: r.pid, systemUuid: r.systemUuid,
    kernelMode: r.kernelMode, replayed: r.replayed, heartbeat: r.heartbeat, silentMs: r.silentMs, held: r.held,
    ...(r.overflowFloor !== undefined ? { overflowFloor: r.overflowFloor } : {}), writeIntents: r.intents, token: r.token.toString(16),
  };
}

function rowText(r: HostRow): string {
  const held = r.held.length ? r.held.join(',') : '-';
  const live = r.liveness === 'live' && r.silentMs > 0 ? `live (silent ${r.silentMs} ms)` : r.liveness;
  return `${String(r.index).padStart(4)}  ${r.state.padEnd(5)} ${live.padEnd(22)} ${r.role.padEnd(7)} ${String(r.pid).padStart(8)}  ${String(r.replayed).padStart(8)}  ${(r.kernelMode ? 'kernel' : 'daemon').padEnd(7)} ${(r.label || '?').padEnd(20)} held: ${held}${r.overflowFloor !== undefined ? ` + all deleted at ≥ ${r.overflowFloor}` : ''}${r.intents.length ? `  writing: ${r.intents.join(',')}` : ''}`;
}

export function register(program: Command): void {
  program
    .command('hosts')
    .description('the presence area of a famfs with deletes: every mounted host (label, role, pid, replayed, held files, write intents, live or gone); --evict frees a gone host\'s slot')
    .argument('[DEV|MOUNTPOINT]', 'the device, or a path in a mounted famfs')
    .option('-d, --device <DEV>', 'famfs device or image file')
    .option('--json', 'one JSON document: an array with one object per slot in use')
    .option('--watch <MS>', 'watch heartbeats this long before judging (default: two beat periods; a host is called gone only after a whole lease of silence)', (v) => {
      if (!/^\d{1,7}$/.test(v)) throw new FamfsError(`--watch ${v}: milliseconds expected`, 'EINVAL', 2);
      return Number(v);
    })
    .option('--evict <SLOT>', 'free the slot of a host that is gone (silent for a whole lease, watched now): its holds stop counting. Kernel mappings of a host that still runs cannot be revoked: evict only hosts that are down')
    .action(async (where: string | undefined, o: { device?: string; json?: boolean; watch?: number; evict?: string }) => {
      const t = targetOrDevice(o, where);
      const { lease, device } = withTarget(t, {}, (fs) => {
        if (!hasFeature(fs.features, PRESENCE)) throw new FamfsError(`${fs.device.path}: this famfs has no presence area (mkfs --features delete makes one)`, 'EINVAL');
        return { lease: leaseMsOf(fs.features), device: fs.device.path };
      });
      const evict = o.evict === undefined ? undefined : Number(o.evict);
      if (evict !== undefined && !(Number.isInteger(evict) && evict >= 0 && evict < PRESENCE_SLOTS)) throw new FamfsError(`--evict ${o.evict}: a slot number 0..63 expected`, 'EINVAL', 2);
      const dev = Device.open(device, { writable: evict !== undefined });
      try {
        dev.mapHead(PRESENCE_OFFSET + PRESENCE_SIZE);
        const area = new PresenceArea(dev);
        if (evict !== undefined) {
          const s = await evictSlot(area, lease, evict, (m) => process.stderr.write(`famfs hosts: ${m}\n`));
          if (o.json) printJson({ evicted: evict, label: s.label, pid: s.pid, held: s.held, writeIntents: s.intents });
          else process.stdout.write(`slot ${evict} (${s.label || '?'}, pid ${s.pid}) freed: its ${s.held.length} held files and ${s.intents.length} write intents no longer keep space\n`);
          return;
        }
        const rows = (await watchHosts(area, lease, o.watch ?? 0)).filter((r) => r.state !== 'free' || r.liveness === 'unreadable');
        if (o.json) return printJson(rows.map(rowJson));
        process.stdout.write(`lease ${lease} ms; ${rows.filter((r) => r.liveness === 'live').length} live, ${rows.filter((r) => r.liveness === 'gone').length} gone\n`);
        process.stdout.write('slot  state liveness               role         pid  replayed  mode    label\n');
        for (const r of rows) process.stdout.write(rowText(r) + '\n');
      } finally {
        dev.close();
      }
    });
}
