import type { Command } from 'commander';
import { addDevice } from '../api/devices.js';
import { withFamfs, type DeviceOption } from './context.js';

export function register(program: Command): void {
  program
    .command('devadd')
    .description('add DEVN as the next device of a famfs (master only): writes its header, logs ADD_DAXDEV, lists it in this host\'s device list')
    .argument('<DEVN>', 'the new device or image file')
    .option('-d, --device <DEV>', 'device 0 of the famfs (default: the famfs mounted at the current directory)')
    .option('-f, --force', 'reuse a device that holds a famfs superblock or another file system\'s header')
    .action((devn: string, o: DeviceOption & { force?: boolean }) => {
      withFamfs(o, undefined, { writable: true }, (fs) => {
        const a = addDevice(fs, devn, { force: o.force });
        process.stdout.write(`device ${a.index}: ${devn} uuid ${a.uuid} size ${a.size}\n`);
      });
    });
}
