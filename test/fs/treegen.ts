/**
 * Generated host trees shaped like the data famfs is asked to hold: a Hugging Face
 * hub cache (blobs, refs, snapshots of relative symlinks, long names, a few big files
 * among many small ones), a /usr/share/doc-like tree of thousands of small files, and
 * random trees for property tests. Seeded: the same seed gives the same names and sizes.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { prng } from '../core/helpers.js';

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const int = (r: () => number, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

export interface TreeStats {
  files: number;
  dirs: number;
  symlinks: number;
  bytes: number;
  sizes: number[];
}

function emptyStats(): TreeStats {
  return { files: 0, dirs: 0, symlinks: 0, bytes: 0, sizes: [] };
}

function writeFile(p: string, size: number, st: TreeStats, mode = 0o644): Buffer {
  const data = randomBytes(size);
  fs.writeFileSync(p, data, { mode });
  fs.chmodSync(p, mode);
  st.files++;
  st.bytes += size;
  st.sizes.push(size);
  return data;
}

function mkdir(p: string, st: TreeStats): void {
  fs.mkdirSync(p, { recursive: true });
  st.dirs++;
}

function link(target: string, p: string, st: TreeStats): void {
  fs.symlinkSync(target, p);
  st.symlinks++;
}

export interface HfOptions {
  seed?: number;
  models?: number;
  /** Small JSON/text files per model snapshot. */
  smallFiles?: number;
  /** Big weight files per model (sizes bigMin..bigMax). */
  bigFiles?: number;
  bigMin?: number;
  bigMax?: number;
}

/**
 * A hub cache: models--ORG--NAME/{blobs/<sha256>, refs/main, snapshots/<rev>/…} where every
 * snapshot file is a relative symlink to ../../blobs/<sha256> (deeper for nested files),
 * plus one absolute symlink and one long (200-byte) name.
 */
export function hfCache(root: string, o: HfOptions = {}): TreeStats {
  const r = prng(o.seed ?? 1);
  const st = emptyStats();
  mkdir(root, st);
  const orgs = ['meta-llama', 'mistralai', 'google', 'sentence-transformers', 'Qwen'];
  const words = ['Instruct', 'Chat', 'base', 'v0.3', 'uncased', 'multilingual', 'MiniLM', 'L12', 'large', '8B', '70B'];
  for (let m = 0; m < (o.models ?? 2); m++) {
    const name = `${pick(r, orgs)}--${pick(r, words)}-${pick(r, words)}-${pick(r, words)}-${m}`;
    const top = path.join(root, `models--${name}`);
    for (const d of ['blobs', 'refs', 'snapshots']) mkdir(path.join(top, d), st);
    const rev = createHash('sha1').update(`${name}${m}`).digest('hex');
    fs.writeFileSync(path.join(top, 'refs', 'main'), rev);
    st.files++;
    st.bytes += rev.length;
    st.sizes.push(rev.length);
    const snap = path.join(top, 'snapshots', rev);
    mkdir(snap, st);
    const entries: { rel: string; size: number }[] = [];
    for (const f of ['config.json', 'generation_config.json', 'tokenizer_config.json', 'special_tokens_map.json', 'README.md', 'LICENSE']) entries.push({ rel: f, size: int(r, 80, 9000) });
    for (let i = 0; i < (o.smallFiles ?? 20); i++) entries.push({ rel: `${pick(r, ['1_Pooling', 'onnx', 'openvino'])}/${pick(r, words)}_${i}.json`, size: int(r, 1, 6000) });
    const big = o.bigFiles ?? 2;
    for (let i = 0; i < big; i++) entries.push({ rel: `model-${String(i + 1).padStart(5, '0')}-of-${String(big).padStart(5, '0')}.safetensors`, size: int(r, o.bigMin ?? 2 * 1024 * 1024, o.bigMax ?? 5 * 1024 * 1024) });
    entries.push({ rel: `${'long-name-'.repeat(20)}.json`, size: 123 }); // 200-byte name
    for (const e of entries) {
      const data = randomBytes(e.size);
      const sha = createHash('sha256').update(data).digest('hex');
      const blob = path.join(top, 'blobs', sha);
      if (!fs.existsSync(blob)) {
        fs.writeFileSync(blob, data, { mode: 0o644 });
        st.files++;
        st.bytes += e.size;
        st.sizes.push(e.size);
      }
      const dest = path.join(snap, e.rel);
      if (!fs.existsSync(path.dirname(dest))) mkdir(path.dirname(dest), st);
      const depth = e.rel.split('/').length - 1;
      link(`${'../'.repeat(depth + 2)}blobs/${sha}`, dest, st);
    }
    link('/etc/hostname', path.join(snap, 'absolute-link'), st);
  }
  return st;
}

export interface DocOptions {
  seed?: number;
  files?: number;
}

/**
 * A /usr/share/doc-like tree: one directory per package (long, dashed names), each with
 * copyright, changelog.Debian.gz, README files and sometimes deep examples/ trees with
 * long names; sizes log-normal around 3 KB (as measured on a Debian /usr/share/doc:
 * median 3,031 B, p10 343 B, p90 36,616 B), a few up to 1 MiB.
 */
export function docTree(root: string, o: DocOptions = {}): TreeStats {
  const r = prng(o.seed ?? 2);
  const st = emptyStats();
  mkdir(root, st);
  const parts = ['lib', 'python3', 'perl', 'gnome', 'x11', 'common', 'dev', 'utils', 'data', 'doc', 'base', 'extra', 'plugins', 'tools', 'runtime', 'bin'];
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const size = (): number => Math.max(1, Math.min(1 << 20, Math.round(Math.exp(Math.log(3000) + 1.6 * gauss()))));
  const total = o.files ?? 3000;
  let pkg = 0;
  while (st.files < total) {
    const name = `${Array.from({ length: int(r, 2, 6) }, () => pick(r, parts)).join('-')}${pkg++}`;
    const dir = path.join(root, name);
    mkdir(dir, st);
    for (const f of ['copyright', 'changelog.Debian.gz', 'README.md', 'NEWS.gz', 'changelog.gz'].slice(0, int(r, 1, 5))) writeFile(path.join(dir, f), size(), st);
    if (r() < 0.15) {
      let d = dir;
      for (let k = 0; k < int(r, 2, 6); k++) {
        d = path.join(d, `${pick(r, ['examples', 'html', 'api-reference', 'tutorials'])}-${Array.from({ length: int(r, 1, 5) }, () => pick(r, parts)).join('_')}`);
        mkdir(d, st);
        for (let i = 0; i < int(r, 1, 8) && st.files < total; i++) writeFile(path.join(d, `${pick(r, parts)}-${pick(r, parts)}-${i}.${pick(r, ['html', 'txt', 'py', 'c', 'gz'])}`), size(), st);
      }
    }
  }
  return st;
}

/** A random name of 1..max UTF-8 bytes (ASCII, spaces, multi-byte letters), never '.', '..' or with '/'. */
export function randomName(r: () => number, max: number): string {
  const alphabet = ['a', 'b', 'Z', '0', '-', '_', '.', ' ', 'é', 'ß', '中', '🙂'];
  const target = int(r, 1, max);
  let s = '';
  for (;;) {
    const c = pick(r, alphabet);
    if (Buffer.byteLength(s + c) > target) break;
    s += c;
  }
  if (s === '' || s === '.' || s === '..') s = `n${s}`.slice(0, 1);
  return s;
}

export interface RandomTreeOptions {
  /** Longest relative path the tree may hold (bytes). */
  maxPath: number;
  nodes: number;
  /** Largest file. */
  maxSize: number;
}

/**
 * A random tree: directories, files of random sizes (mostly small, some past 2 MiB) and
 * symlinks (relative to siblings or ancestors, absolute, dangling), names up to 255 bytes.
 */
export function randomTree(root: string, seed: number, o: RandomTreeOptions): TreeStats {
  const r = prng(seed);
  const st = emptyStats();
  mkdir(root, st);
  const dirs: string[] = [''];
  for (let i = 0; i < o.nodes; i++) {
    const parent = pick(r, dirs);
    const room = o.maxPath - (parent ? Buffer.byteLength(parent) + 1 : 0);
    if (room < 1) continue;
    let name = randomName(r, Math.min(255, room, r() < 0.3 ? 255 : 40));
    const rel = parent ? `${parent}/${name}` : name;
    const abs = path.join(root, rel);
    if (fs.existsSync(abs) || fs.lstatSync(abs, { throwIfNoEntry: false })) continue;
    const k = r();
    if (k < 0.3) {
      mkdir(abs, st);
      dirs.push(rel);
    } else if (k < 0.8) {
      const sz = r() < 0.05 ? int(r, 2 * 1024 * 1024, o.maxSize) : r() < 0.1 ? 0 : int(r, 1, 20000);
      writeFile(abs, sz, st, pick(r, [0o644, 0o600, 0o755, 0o444]));
    } else {
      const t = r();
      const target = t < 0.4 ? `../${randomName(r, 30)}` : t < 0.6 ? `/${randomName(r, 60)}` : t < 0.8 ? randomName(r, 100) : `${'../'.repeat(int(r, 1, 4))}x`;
      link(target, abs, st);
    }
    name = '';
  }
  return st;
}

/**
 * What `find -L DIR -type f | sort | sha256sum` and `readlink` show, as one comparable text:
 * per path its type, mode, link target and (for regular files, following links) the sha256.
 */
export function treeSignature(root: string, opts: { followLinks?: boolean } = {}): string {
  const lines: string[] = [];
  const walk = (rel: string): void => {
    const abs = rel ? path.join(root, rel) : root;
    const ents = fs.readdirSync(abs, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of ents) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      const full = path.join(root, p);
      if (e.isSymbolicLink() && !opts.followLinks) {
        lines.push(`l ${p} -> ${fs.readlinkSync(full)}`);
        continue;
      }
      const st = opts.followLinks ? fs.statSync(full, { throwIfNoEntry: false }) : fs.lstatSync(full);
      if (!st) {
        lines.push(`dangling ${p}`);
        continue;
      }
      if (st.isDirectory()) {
        lines.push(`d ${(st.mode & 0o7777).toString(8)} ${p}`);
        walk(p);
      } else if (st.isFile()) {
        lines.push(`f ${(st.mode & 0o7777).toString(8)} ${st.size} ${createHash('sha256').update(fs.readFileSync(full)).digest('hex')} ${p}`);
      }
    }
  };
  walk('');
  return lines.join('\n');
}
