import { Option, type Command } from 'commander';
import { FamfsError } from '../api/errors.js';
import { DAX_MODES, daxDriver, daxMode, setDaxMode, type DaxMode } from '../device/daxmode.js';
import { famfsMounts } from '../fs/daemon.js';
import fs from 'node:fs';

export function register(program: Command): void {
  program
    .command('daxdev')
    .description('show or switch the driver of a DAX device: devdax (device_dax, mappable by user space) or fsdev (fsdev_dax, for famfs kernel mode)')
    .argument('<DEV>', 'DAX character device, e.g. /dev/dax0.0')
    .addOption(new Option('-m, --mode <MODE>', 'bind the device to this mode').choices([...DAX_MODES]))
    .action((dev: string, o: { mode?: DaxMode }) => {
      const driver = daxDriver(dev);
      if (driver === undefined) throw new FamfsError(`${dev}: not a DAX device`, 'ENODEV');
      if (!o.mode) {
        process.stdout.write(`${dev}: ${daxMode(dev) ?? 'other'} (driver ${driver || 'none'})\n`);
        return;
      }
      let real = dev;
      try {
        real = fs.realpathSync(dev);
      } catch {
        /* checked above */
      }
      const used = famfsMounts().find((m) => m.device === real);
      if (o.mode === 'devdax' && used && daxMode(dev) === 'fsdev') throw new FamfsError(`${dev}: in use by the famfs kernel-mode mount at ${used.mountpoint}; unmount it first`, 'EBUSY');
      const { changed } = setDaxMode(dev, o.mode);
      process.stdout.write(`${dev}: ${o.mode}${changed ? '' : ' (already)'}\n`);
    });
}
