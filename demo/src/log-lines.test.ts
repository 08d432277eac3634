import { describe, expect, it } from 'vitest';
import { formatLine } from './log-lines.ts';

describe('formatLine', () => {
  const plain = { colour: false, width: 12, index: 0 };

  it('puts the container name in front of a JSON log line and keeps its fields', () => {
    const line = JSON.stringify({ level: 'info', time: 'x', component: 'web', msg: 'listening', port: 8080 });
    expect(formatLine('web', line, plain)).toBe('web          | info  listening port=8080');
  });

  it('passes other lines through unchanged', () => {
    expect(formatLine('ambassador', 'plain text {', plain)).toBe('ambassador   | plain text {');
  });

  it('colours only when asked', () => {
    const line = JSON.stringify({ level: 'error', msg: 'boom' });
    expect(formatLine('web', line, { ...plain, colour: true })).toContain('\x1b[31m');
    expect(formatLine('web', line, plain)).not.toContain('\x1b[');
  });
});
