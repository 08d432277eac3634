// manifests/ambassador as a whole: the inbound and outbound examples applied together, as its
// README suggests, in one namespace. Each half is tested in depth by ambassador.e2e.test.ts;
// this checks that together they come up and work (names, Services and ports do not collide).
// Kind only: the outbound half needs the headless Service's DNS, which podman does not run.
import { describe, expect, it } from 'vitest';
import { deploy } from '../../src/fixture.ts';
import { eventually, get200, metricValue } from '../../src/wait.ts';

describe('ambassador (inbound and outbound together)', () => {
  const pods = deploy('ambassador');

  it('every pod is Ready; port 80 answers inbound, the app reaches a backend outbound', async () => {
    expect(JSON.parse(await get200(`${pods.current.url('ambassador-inbound', 80)}/fruit.json`))).toHaveLength(
      3,
    );
    await eventually(
      async () => {
        const metrics = await get200(`${pods.current.url('ambassador-outbound', 9901)}/metrics`);
        expect(metricValue(metrics, 'ambassador_upstream_up')).toBe(2);
      },
      { timeoutMs: 60_000, what: 'both backends up' },
    );
    const r = await pods.current.exec('ambassador-outbound', 'app', [
      'wget',
      '-qO-',
      'http://127.0.0.1:8000/whoami.txt',
    ]);
    expect(r.code).toBe(0);
    expect(['backend-0', 'backend-1']).toContain(r.stdout.trim());
  });
});
