// `node bench/chart.ts`: draws docs/images/bench.svg from the tables in bench/results/*.md.
// For each benchmark, every table with a ratio column ("web / nginx", "efficiency vs nginx",
// "vs mtail": cells like 0.78×, 11.7× faster, 12.9× less) becomes a group of bars on a log scale
// around the reference tool at 1×: right of it multipod does better, left worse. A "goal" column
// becomes a tick. Plain SVG, no dependencies. It also copies the result tables into
// docs/benchmarks.md, between the markers `<!-- results:start -->` and `<!-- results:end -->`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

export interface Bar {
  label: string;
  /** How much better multipod does: > 1 better, < 1 worse (inverted for lower-is-better columns). */
  ratio: number;
  /** The cell as the table shows it, e.g. "0.85×". */
  shown: string;
  goal?: number;
}
export interface Group {
  bench: string;
  title: string;
  column: string;
  /** The column measures something where less is better (latency, time, memory): bars inverted. */
  lowerIsBetter: boolean;
  bars: Bar[];
}

const RATIO = /^\**\s*([\d.,]+)\s*×\s*(faster|less|fewer|slower|more)?\s*\**$/;
const GOAL = /([\d.]+)\s*×/;
const LOWER_IS_BETTER = /p\d\d|latency|time|\bms\b|rss|cpu|memory|bytes/i;

/** Splits a markdown table row into trimmed cells. */
const cells = (line: string) =>
  line
    .trim()
    .replace(/^\||\|$/g, '')
    .split('|')
    .map((c) => c.trim());

/** Every table of one results file that has a ratio column, as a bar group. */
export function groupsOf(bench: string, markdown: string): Group[] {
  const lines = markdown.split('\n');
  const groups: Group[] = [];
  let heading = bench;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^#{2,4}\s/.test(line)) heading = line.replace(/^#+\s*/, '').trim();
    if (!line.trim().startsWith('|') || !/^\s*\|[\s:|-]+\|\s*$/.test(lines[i + 1] ?? '')) continue;
    const header = cells(line);
    const rows: string[][] = [];
    let j = i + 2;
    while (j < lines.length && lines[j]!.trim().startsWith('|')) rows.push(cells(lines[j++]!));
    i = j - 1;
    const col = header.findIndex((_, k) => k > 0 && rows.some((r) => RATIO.test(r[k] ?? '')));
    if (col === -1) continue;
    const goalCol = header.findIndex((h) => /^goal$/i.test(h));
    const lowerIsBetter = LOWER_IS_BETTER.test(header[col]!);
    const matched = rows.filter((r) => RATIO.test(r[col] ?? ''));
    // Rows named by a number repeated per tool (files: 1100, 1100…) also need the tool's name.
    const firsts = matched.map((r) => r[0]!);
    const ambiguous = new Set(firsts).size < firsts.length;
    const bars: Bar[] = [];
    for (const r of matched) {
      const m = RATIO.exec(r[col]!)!;
      const n = Number(m[1]!.replace(/,/g, ''));
      // "2× faster", "2× less" are better by that factor; "2× slower", "2× more" worse; a bare
      // ratio in a lower-is-better column (a p99 ratio) is better when below 1.
      const worseWord = m[2] === 'slower' || m[2] === 'more';
      const invert = m[2] ? worseWord : lowerIsBetter;
      const ratio = invert ? 1 / n : n;
      if (!(ratio > 0 && Number.isFinite(ratio))) continue;
      const label = (ambiguous ? `${r[0]} · ${r[1] ?? ''}` : r[0]!).replace(/`/g, '');
      const bar: Bar = { label, ratio: Math.round(ratio * 1000) / 1000, shown: r[col]!.replace(/\*/g, '') };
      const g = goalCol === -1 ? null : GOAL.exec(r[goalCol] ?? '');
      if (g) bar.goal = invert ? 1 / Number(g[1]) : Number(g[1]);
      bars.push(bar);
    }
    if (bars.length)
      groups.push({
        bench,
        title: heading === `bench ${bench}` ? bench : heading,
        column: header[col]!,
        lowerIsBetter,
        bars,
      });
  }
  return groups;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function renderSvg(groups: readonly Group[], stamp: string): string {
  const W = 960;
  const LABEL = 390;
  const PLOT = W - LABEL - 70;
  const BAR = 18;
  const values = groups.flatMap((g) => g.bars.flatMap((b) => [b.ratio, b.goal ?? 1]));
  const lo = Math.min(0.5, 2 ** Math.floor(Math.log2(Math.min(...values))));
  const hi = Math.max(2, 2 ** Math.ceil(Math.log2(Math.max(...values))));
  const x = (v: number) => LABEL + ((Math.log2(v) - Math.log2(lo)) / (Math.log2(hi) - Math.log2(lo))) * PLOT;
  const one = x(1);
  const out: string[] = [];
  let y = 72;
  for (const g of groups) {
    const sub = `${g.title === g.bench ? '' : `${g.title} — `}${g.column}${g.lowerIsBetter ? ' (lower is better: drawn inverted)' : ''}`;
    out.push(
      `<text x="16" y="${y}"><tspan class="bench">${esc(g.bench)}</tspan><tspan class="sub" dx="10">${esc(sub)}</tspan></text>`,
    );
    y += 10;
    for (const b of g.bars) {
      const colour = b.goal !== undefined ? (b.ratio >= b.goal ? '#12805c' : '#c4320a') : '#2e5aac';
      const bx = x(b.ratio);
      const left = Math.min(one, bx);
      const end = Math.max(bx, b.goal === undefined ? bx : x(b.goal));
      out.push(
        `<text x="${LABEL - 10}" y="${y + BAR - 5}" class="label" text-anchor="end">${esc(b.label.length > 46 ? `${b.label.slice(0, 45)}…` : b.label)}</text>`,
        `<rect x="${left.toFixed(1)}" y="${y}" width="${Math.max(2, Math.abs(bx - one)).toFixed(1)}" height="${BAR}" rx="3" fill="${colour}"/>`,
        `<text x="${(Math.max(end, one) + 6).toFixed(1)}" y="${y + BAR - 5}" class="value">${esc(b.shown)}</text>`,
      );
      if (b.goal !== undefined)
        out.push(
          `<line x1="${x(b.goal).toFixed(1)}" x2="${x(b.goal).toFixed(1)}" y1="${y - 3}" y2="${y + BAR + 3}" class="goal"/>`,
        );
      y += BAR + 6;
    }
    y += 28;
  }
  const H = y + 16;
  const ticks: string[] = [];
  for (let t = lo; t <= hi * 1.0001; t *= 2) {
    const tx = x(t).toFixed(1);
    const label = t >= 1 ? `${t}×` : `1/${1 / t}`;
    ticks.push(
      `<line x1="${tx}" x2="${tx}" y1="56" y2="${H - 34}" class="${t === 1 ? 'one' : 'grid'}"/>`,
      `<text x="${tx}" y="${H - 18}" class="tick" text-anchor="middle">${label}</text>`,
    );
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" role="img" aria-labelledby="chart-title">
<title id="chart-title">multipod against the tool each component replaces (ratios from bench/results)</title>
<style>
  .title { font-size: 17px; font-weight: 700; fill: #1d2330; }
  .bench { font-size: 15px; font-weight: 700; fill: #1d2330; }
  .sub, .note { font-size: 12.5px; fill: #667085; font-weight: 400; }
  .label { font-size: 12.5px; fill: #1d2330; }
  .value, .tick { font-size: 12px; fill: #344054; }
  .grid { stroke: #eaecf0; }
  .one { stroke: #1d2330; stroke-dasharray: 4 3; }
  .goal { stroke: #1d2330; stroke-width: 2.5; }
</style>
<rect width="${W}" height="${H}" fill="#fff"/>
<text x="16" y="24" class="title">multipod against the tool each component replaces</text>
<text x="16" y="44" class="note">multipod ÷ reference, log scale: right of the dashed 1× line multipod does better, left worse. Black tick: the goal (green met, red not; blue: no goal).</text>
<text x="${W - 16}" y="${H - 4}" class="note" text-anchor="end">from bench/results/*.md — ${esc(stamp)}</text>
${ticks.join('\n')}
${out.join('\n')}
</svg>
`;
}

/** The results files as one markdown section: headings one level down, `# bench x` → `## x`. */
export function resultsSection(files: readonly { name: string; markdown: string }[]): string {
  return files
    .map(({ name, markdown }) =>
      markdown
        .trim()
        .replace(/^## /gm, '### ')
        .replace(/^# (?:bench )?(.*)$/m, (_m, title: string) => `## ${title.trim() || name}`)
        .concat(
          `\n\nRaw: [bench/results/${name}.md](../bench/results/${name}.md), [.json](../bench/results/${name}.json).`,
        ),
    )
    .join('\n\n');
}

export function spliceResults(page: string, section: string): string {
  const start = '<!-- results:start -->';
  const end = '<!-- results:end -->';
  const a = page.indexOf(start);
  const b = page.indexOf(end);
  if (a === -1 || b < a) return page;
  return `${page.slice(0, a + start.length)}\n\n${section}\n\n${page.slice(b)}`;
}

function main(): void {
  const root = join(import.meta.dirname, '..');
  const dir = join(root, 'bench', 'results');
  const files = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.md'))
        .sort()
    : [];
  const groups = files.flatMap((f) => groupsOf(basename(f, '.md'), readFileSync(join(dir, f), 'utf8')));
  if (!groups.length) {
    console.error(
      'bench/chart.ts: no result tables with ratios in bench/results/*.md; run `pnpm bench` first',
    );
    process.exit(1);
  }
  const outFile = join(root, 'docs', 'images', 'bench.svg');
  mkdirSync(join(root, 'docs', 'images'), { recursive: true });
  writeFileSync(
    outFile,
    renderSvg(groups, `${files.length} results, drawn ${new Date().toISOString().slice(0, 10)}`),
  );
  console.log(`wrote ${outFile}: ${groups.length} groups from ${files.join(', ')}`);
  const page = join(root, 'docs', 'benchmarks.md');
  if (existsSync(page)) {
    const section = resultsSection(
      files.map((f) => ({ name: basename(f, '.md'), markdown: readFileSync(join(dir, f), 'utf8') })),
    );
    writeFileSync(page, spliceResults(readFileSync(page, 'utf8'), section));
    // The copied tables in the repository's markdown style, so `pnpm lint` stays clean.
    const biome = join(root, 'node_modules', '.bin', 'biome');
    if (existsSync(biome)) spawnSync(biome, ['format', '--write', page], { stdio: 'ignore' });
    console.log(`updated the result tables in ${page}`);
  }
}

if (process.argv[1] === import.meta.filename) main();
