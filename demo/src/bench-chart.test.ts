// bench/chart.ts (owned with the docs): result tables in, bars and the docs section out.
import { describe, expect, it } from 'vitest';
import { groupsOf, renderSvg, resultsSection, spliceResults } from '../../bench/chart.ts';

const RESULT = `# bench web

| file | nginx req/s | web req/s | web / nginx | goal |
| --- | ---: | ---: | ---: | ---: |
| 1 KB | 47045 | 36583 | **0.78×** | ≥ 0.5× |
| 10 KB | 77677 | 32507 | **0.42×** | ≥ 0.5× |

### Ingest

| measure | ours | theirs | ours vs theirs |
| --- | ---: | ---: | ---: |
| lines/s | 1,519,532 | 130,129 | 11.7× faster |
| CPU time | 0.17 s | 2.20 s | 12.9× less |
| memory | 98 MiB | 21 MiB | 4× more |
| wall time | 0.20 s | 2.31 s | |

## Latency

| files | sidecar | p99 | p99 ratio |
| ---: | --- | ---: | ---: |
| 1100 | content-sync | 66 ms | 0.5× |
| 1100 | shell | 78 ms | 1× |

| no ratio | here |
| --- | --- |
| a | b |
`;

describe('bench chart', () => {
  it('finds every table with a ratio column, reading "faster", "less" and "more"', () => {
    const groups = groupsOf('web', RESULT);
    expect(groups.map((g) => [g.title, g.column, g.lowerIsBetter])).toEqual([
      ['web', 'web / nginx', false],
      ['Ingest', 'ours vs theirs', false],
      ['Latency', 'p99 ratio', true],
    ]);
    expect(groups[0]!.bars).toEqual([
      { label: '1 KB', ratio: 0.78, shown: '0.78×', goal: 0.5 },
      { label: '10 KB', ratio: 0.42, shown: '0.42×', goal: 0.5 },
    ]);
    expect(groups[1]!.bars).toEqual([
      { label: 'lines/s', ratio: 11.7, shown: '11.7× faster' },
      { label: 'CPU time', ratio: 12.9, shown: '12.9× less' },
      { label: 'memory', ratio: 0.25, shown: '4× more' },
    ]);
  });

  it('inverts a lower-is-better ratio, and names rows that repeat a number by their tool', () => {
    const [, , latency] = groupsOf('content-sync', RESULT);
    expect(latency!.bars).toEqual([
      { label: '1100 · content-sync', ratio: 2, shown: '0.5×' },
      { label: '1100 · shell', ratio: 1, shown: '1×' },
    ]);
  });

  it('draws one bar per row, coloured by its goal, in valid-looking SVG', () => {
    const svg = renderSvg(groupsOf('web', RESULT), 'test');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.match(/<rect x=/g)?.length).toBe(7);
    expect(svg).toContain('11.7× faster</text>');
    expect(svg).toContain('fill="#12805c"'); // 0.78 ≥ 0.5: met
    expect(svg).toContain('fill="#c4320a"'); // 0.42 < 0.5: not met
    expect(svg).not.toMatch(/NaN|undefined/);
  });

  it('puts the result tables between the markers of the docs page, and only there', () => {
    const section = resultsSection([
      { name: 'web', markdown: RESULT },
      { name: 'content-sync', markdown: '# content-sync vs inotifywait + rsync\n\n| a | b |\n| - | - |\n' },
    ]);
    expect(section).toMatch(/^## web\n/);
    expect(section).toContain('### Ingest');
    expect(section).toContain('\n## content-sync vs inotifywait + rsync\n');
    expect(section).not.toMatch(/^# /m);
    const page = 'intro\n<!-- results:start -->\nold\n<!-- results:end -->\nafter\n';
    const out = spliceResults(page, section);
    expect(out).toContain('intro\n<!-- results:start -->\n\n## web');
    expect(out).not.toContain('old');
    expect(out.endsWith('<!-- results:end -->\nafter\n')).toBe(true);
    expect(spliceResults('no markers', section)).toBe('no markers');
  });
});
