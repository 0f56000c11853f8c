/**
 * A picture of each device's space: every allocation unit classed as
 * metadata (superblock and log, or a secondary device's header), free, held
 * by one file, or claimed by several (a collision). Drawn as block characters
 * for a terminal and as SVG for a browser (`famfs fsck --map`, `--svg`).
 */
import { SECONDARY_DATA_START } from '../format/devheader.js';
import type { Famfs } from './famfs.js';

export const UnitClass = { FREE: 0, META: 1, FILE: 2, COLLISION: 3 } as const;
export type UnitClassName = 'free' | 'meta' | 'file' | 'collision';
export const CLASS_NAMES: readonly UnitClassName[] = ['free', 'meta', 'file', 'collision'];

export interface DeviceSpace {
  index: number;
  path: string;
  size: number;
  allocUnit: number;
  /** One UnitClass per allocation unit. */
  classes: Uint8Array;
}

/** Class every unit of every device from the sound file entries of the log. */
export function spaceMaps(fs: Famfs): DeviceSpace[] {
  const g = fs.geometry;
  const au = g.allocUnit;
  const out: DeviceSpace[] = [];
  const held = fs.heldSpace();
  for (let d = 0; d < g.ndevices; d++) {
    const size = d === 0 ? g.deviceSize : g.deviceSizes?.[d];
    if (size === undefined) continue;
    const units = Math.floor(size / au);
    const claims = new Uint8Array(units);
    const reserved = Math.min(units, Math.ceil((d === 0 ? g.dataStart : SECONDARY_DATA_START) / au));
    claims.fill(1, 0, reserved);
    // Live files and deleted ones not released yet (both hold their units).
    for (const h of held) {
      for (const e of h.map.kind === 'simple' ? h.map.extents : h.map.strips) {
        if (e.devindex !== d) continue;
        const first = Math.floor(e.offset / au), end = Math.min(units, Math.ceil((e.offset + e.length) / au));
        for (let u = first; u < end; u++) if (claims[u]! < 255) claims[u]!++;
      }
    }
    const classes = new Uint8Array(units);
    for (let u = 0; u < units; u++) {
      const c = claims[u]!;
      classes[u] = c === 0 ? UnitClass.FREE : c >= 2 ? UnitClass.COLLISION : u < reserved ? UnitClass.META : UnitClass.FILE;
    }
    out.push({ index: d, path: fs.devicePath(d) ?? `(device ${d}, not found on this host)`, size, allocUnit: au, classes });
  }
  return out;
}

/** Cells of `per` units each, a cell taking its most telling class (collision > file > meta > free). */
function cells(classes: Uint8Array, per: number): Uint8Array {
  const n = Math.ceil(classes.length / per);
  const out = new Uint8Array(n);
  const rank = [0, 1, 2, 3]; // FREE < META < FILE < COLLISION, as the numbers
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let u = i * per; u < Math.min(classes.length, (i + 1) * per); u++) if (rank[classes[u]!]! > rank[best]!) best = classes[u]!;
    out[i] = best;
  }
  return out;
}

function bytes(n: number): string {
  const u = ['B', 'K', 'M', 'G', 'T', 'P'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return `${Number.isInteger(n) ? n : n.toFixed(1)}${u[i]}`;
}

export function summary(s: DeviceSpace): Record<UnitClassName, number> {
  const c = { free: 0, meta: 0, file: 0, collision: 0 };
  for (const k of s.classes) c[CLASS_NAMES[k]!]++;
  return c;
}

/** Block characters, `width` cells a line; ANSI colours when `color` (a TTY), distinct characters always. */
export function renderText(spaces: DeviceSpace[], o: { width?: number; color?: boolean; maxCells?: number } = {}): string {
  const width = Math.max(16, o.width ?? 64);
  const CH = o.color ? ['░', '▒', '█', '█'] : ['.', 'm', '#', 'X'];
  const SGR = ['\x1b[2m', '\x1b[34m', '\x1b[32m', '\x1b[1;31m'];
  const paint = (k: number, text: string): string => (o.color ? `${SGR[k]}${text}\x1b[0m` : text);
  const L: string[] = [];
  for (const s of spaces) {
    const per = Math.max(1, Math.ceil(s.classes.length / (o.maxCells ?? width * 32)));
    const sum = summary(s);
    L.push(`device ${s.index}: ${s.path}  ${bytes(s.size)}, ${s.classes.length} units of ${bytes(s.allocUnit)}; one character = ${per === 1 ? 'one unit' : `${per} units (${bytes(per * s.allocUnit)})`}`);
    L.push(`  ${paint(2, CH[2]!)} file ${sum.file}   ${paint(0, CH[0]!)} free ${sum.free}   ${paint(1, CH[1]!)} metadata ${sum.meta}   ${paint(3, CH[3]!)} collision ${sum.collision}`);
    const c = cells(s.classes, per);
    for (let i = 0; i < c.length; i += width) {
      let line = '';
      const end = Math.min(c.length, i + width);
      for (let j = i; j < end; ) {
        let n = 1;
        while (j + n < end && c[j + n] === c[j]) n++;
        line += paint(c[j]!, CH[c[j]!]!.repeat(n)); // one colour change per run
        j += n;
      }
      L.push(`  ${line}`);
    }
  }
  return L.join('\n') + '\n';
}

const FILL: Record<UnitClassName, string> = { free: '#e8e8e8', meta: '#5c6bc0', file: '#43a047', collision: '#e53935' };

/**
 * SVG: per device a grid of cells (`per` units each, left to right, top to bottom); runs of
 * one class in a row are one <rect class=… data-device data-first data-units>, so the picture
 * can be read back unit by unit.
 */
export function renderSvg(spaces: DeviceSpace[], o: { columns?: number; cell?: number; maxCells?: number } = {}): string {
  const cols = o.columns ?? 128, cell = o.cell ?? 6, pad = 10, head = 34;
  const parts: string[] = [];
  let y = pad;
  let maxW = 0;
  for (const s of spaces) {
    const per = Math.max(1, Math.ceil(s.classes.length / (o.maxCells ?? 16384)));
    const c = cells(s.classes, per);
    const sum = summary(s);
    const esc = (t: string): string => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
    parts.push(`<g class="device" data-device="${s.index}" data-units="${s.classes.length}" data-per-cell="${per}" data-alloc-unit="${s.allocUnit}">`);
    parts.push(`<text x="${pad}" y="${y + 14}" font-family="monospace" font-size="12">device ${s.index}: ${esc(s.path)} — ${bytes(s.size)}; file ${sum.file}, free ${sum.free}, metadata ${sum.meta}, collision ${sum.collision} units of ${bytes(s.allocUnit)}${per > 1 ? `; a cell is ${per} units` : ''}</text>`);
    const top = y + head - 14;
    for (let row = 0; row * cols < c.length; row++) {
      for (let col = 0; col < cols && row * cols + col < c.length; ) {
        const i = row * cols + col, k = c[i]!;
        let n = 1;
        while (col + n < cols && i + n < c.length && c[i + n] === k) n++;
        const name = CLASS_NAMES[k]!;
        const first = i * per, units = Math.min(s.classes.length, (i + n) * per) - first;
        parts.push(`<rect class="${name}" data-device="${s.index}" data-first="${first}" data-units="${units}" x="${pad + col * cell}" y="${top + row * cell}" width="${n * cell}" height="${cell}" fill="${FILL[name]}"><title>${name}: units ${first}–${first + units - 1}</title></rect>`);
        col += n;
      }
    }
    parts.push('</g>');
    y = top + Math.ceil(c.length / cols) * cell + pad * 2;
    maxW = Math.max(maxW, pad * 2 + Math.min(cols, c.length) * cell);
  }
  const legend = CLASS_NAMES.map((n, i) => `<rect x="${pad + i * 110}" y="${y}" width="10" height="10" fill="${FILL[n]}"/><text x="${pad + i * 110 + 14}" y="${y + 9}" font-family="monospace" font-size="11">${n === 'meta' ? 'metadata' : n}</text>`).join('');
  const h = y + 20;
  const w = Math.max(maxW, pad * 2 + 4 * 110);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">\n<title>famfs allocation</title>\n${parts.join('\n')}\n${legend}\n</svg>\n`;
}
