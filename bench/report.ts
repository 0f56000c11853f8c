/** How `npm run bench` prints rows, and issue 15's table filled in from a run. */
import { goalFigure, goalMet, goalText, ISSUE15 } from './goals.js';
import type { BenchRow } from './types.js';

export function fmt(v: number, unit: string): string {
  if (unit === 's') return v < 0.01 ? `${(v * 1000).toFixed(2)} ms` : `${v.toFixed(3)} s`;
  if (Math.abs(v) >= 100) return `${Math.round(v).toLocaleString('en-US')} ${unit}`;
  return `${v.toPrecision(3)} ${unit}`;
}

function better(r: BenchRow): 'lower' | 'higher' {
  return r.better ?? (r.unit.endsWith('/s') ? 'higher' : 'lower');
}

/** One line: figure | ref: what = figure | ratio (and which way is good). */
export function formatRow(r: BenchRow): string {
  const ratio = r.refValue ? r.value / r.refValue : NaN;
  const how = better(r) === 'higher' ? 'higher is better' : 'lower is better';
  let line = `${r.name}: ${fmt(r.value, r.unit)} | ref: ${r.ref}: ${fmt(r.refValue, r.unit)} | ratio ${ratio.toFixed(2)} (${how})`;
  if (r.goal) line += ` | ${goalText(r.goal, r.unit)}: ${goalMet(r, r.goal) ? 'met' : 'NOT met'}`;
  return r.note ? `${line}\n    ${r.note}` : line;
}

/**
 * Issue 15's table filled in from this run (bench/goals.ts): one line per printed row that
 * belongs to it, and a line for each row this run did not measure. A row is met when every
 * default-mount figure of it meets the goal (start-up prints wall and CPU); `famfs --cache`
 * figures are shown and counted apart, since the issue's goals are about the default mount.
 */
export function issue15Summary(rows: (BenchRow & { module: string })[], ran: string[], failed: Set<string>): string {
  const out = ['', 'Issue 15 goals (this run):'];
  let met = 0, measured = 0, cacheOnly = 0;
  for (const g of ISSUE15) {
    const hits = rows.filter((r) => r.module === g.module && g.name.test(r.name) && g.ref.test(r.ref));
    if (!hits.length) {
      const why = failed.has(g.module) ? `module ${g.module} failed` : ran.includes(g.module) ? `module ${g.module} printed no such row` : `module ${g.module} not run`;
      out.push(`  ${g.what} | ${goalText(g.goal, '')} | no figure: ${why}`);
      continue;
    }
    const cached = (r: BenchRow): boolean => /--cache/.test(r.name);
    const plain = hits.filter((r) => !cached(r));
    for (const r of hits) {
      const ok = goalMet(r, g.goal);
      const x = goalFigure(r, g.goal);
      const fig = 'value' in g.goal ? `${fmt(x, r.unit)} (` : `${x.toFixed(2)}× (${fmt(r.value, r.unit)}; `;
      const tag = cached(r) ? ' (famfs --cache)' : plain.length > 1 ? ` (${r.name})` : '';
      out.push(`  ${g.what}${tag} | ${fig}${r.ref}: ${fmt(r.refValue, r.unit)}) | ${goalText(g.goal, r.unit)}: ${ok ? 'met' : 'NOT met'}`);
    }
    if (!plain.length) continue;
    measured++;
    if (plain.every((r) => goalMet(r, g.goal))) met++;
    else if (hits.some((r) => cached(r) && goalMet(r, g.goal))) cacheOnly++;
  }
  out.push(`  ${met} of ${measured} measured rows met their goal on the default mount` + (cacheOnly ? `; ${cacheOnly} more only with famfs --cache` : ''));
  return out.join('\n') + '\n';
}
