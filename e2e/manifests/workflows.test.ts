// Every GitHub Actions workflow file passes scripts/check-workflows.ts (actionlint, and actions
// pinned by commit). The check itself is checked too: each kind of mistake it must catch.
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkWorkflow, workflowFiles } from '../../scripts/check-workflows.ts';

const CHECKOUT = 'actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2';
const workflow = (steps: string) =>
  `name: t\non: push\npermissions:\n  contents: read\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n${steps}`;
const problems = async (text: string) =>
  (await checkWorkflow('t.yml', text)).map((p) => `${p.line}: ${p.message}`);

describe('workflow files', () => {
  it.each(workflowFiles().map((f) => [basename(f), f]))(
    '%s passes actionlint and is pinned',
    async (_name, file) => {
      expect(await checkWorkflow(file)).toEqual([]);
    },
  );

  it('accepts a pinned, commented, well-formed workflow', async () => {
    expect(
      await problems(workflow(`      - uses: ${CHECKOUT}\n      - run: echo "\${{ github.sha }}"\n`)),
    ).toEqual([]);
  });

  it.each([
    [
      'an action by tag',
      `      - uses: actions/checkout@v4\n`,
      /9: "actions\/checkout@v4" is not pinned to a full commit SHA/,
    ],
    [
      'a pin without the tag it stands for',
      `      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683\n`,
      /9: .* has no "# vX\.Y\.Z" comment/,
    ],
    [
      'a misspelt context property',
      `      - run: echo "\${{ github.evnt }}"\n`,
      /9: property "evnt" is not defined/,
    ],
    [
      'an input the pinned action does not have',
      `      - uses: ${CHECKOUT}\n        with:\n          fetch-deep: 0\n`,
      /11: input "fetch-deep" is not defined in action "actions\/checkout@v4"/,
    ],
    ['a job without runs-on', '', /runs-on/],
  ])('catches %s', async (_name, steps, why) => {
    const text = steps
      ? workflow(steps)
      : 'name: t\non: push\njobs:\n  a:\n    steps:\n      - run: "true"\n';
    expect((await problems(text)).join('\n')).toMatch(why);
  });
});
