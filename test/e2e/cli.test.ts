// `kubectl pea` on a real cluster, run the way a user runs it: installed as `kubectl-pea`
// on PATH (hack/install-plugin.sh, what `make install` does), found by kubectl itself. A
// Ready Pea, one whose ready check fails, and a cancelled one each tell their story.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFile, execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { apply, condition, kubectl, NAMESPACE, pea, peaStatus, waitFor, waitForPhase } from './kube.js';

const MINUTE = 60_000;
const PEAS = ['obs-ready', 'obs-stuck', 'obs-cancel'];
let bin: string;

/** `kubectl pea ARGS -n NAMESPACE` through kubectl's plugin lookup: exit code and output. */
async function kubectlPea(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
  try {
    const r = await promisify(execFile)(process.env.KUBECTL ?? 'kubectl', ['pea', ...args, '-n', NAMESPACE], {
      env,
      timeout: 3 * MINUTE,
    });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

/** With KUBECTL_PEA_TRANSCRIPT=FILE, what each status printed is kept there (docs/observability.md quotes it). */
function transcript(args: string, out: string): void {
  const file = process.env.KUBECTL_PEA_TRANSCRIPT;
  if (file) appendFileSync(file, `$ kubectl pea ${args}\n${out}\n`);
}

const fits = (out: string) => expect(out.split('\n').filter((l) => l.length > 100)).toEqual([]);
const step = (name: string) => new RegExp(`^  ${name} +\\d\\d:\\d\\d:\\d\\dZ +\\+\\d+(m\\d*)?s? *\\S*$`, 'm');

beforeAll(async () => {
  bin = mkdtempSync(join(tmpdir(), 'kubectl-pea-'));
  execFileSync('hack/install-plugin.sh', [bin], { stdio: 'inherit' });
  await apply(pea('obs-ready'));
  await apply(pea('obs-cancel'));
  await apply(pea('obs-stuck', { args: ['--never-ready'], timeouts: { readySeconds: 300 } }));
}, 2 * MINUTE);

afterAll(async () => {
  await kubectl(['delete', 'pea', '-n', NAMESPACE, '--ignore-not-found', '--wait=false', ...PEAS]);
  rmSync(bin, { recursive: true, force: true });
});

describe('kubectl pea on a real cluster', () => {
  test('status of a Ready Pea: its pod and node, and every step up to Ready', async () => {
    await waitForPhase('obs-ready', ['Ready'], 2 * MINUTE);
    const r = await kubectlPea('status', 'obs-ready');
    transcript('status obs-ready', r.out);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Pea peapods-e2e\/obs-ready: Ready \(RuntimeReady\)$/m);
    expect(r.out).toMatch(/^pod: obs-ready-pea on node \S+, IP [\d.]+, pod phase Running$/m);
    for (const s of [
      'created',
      'pod scheduled',
      'sidecar started',
      'runtime started',
      'ready check passed',
      'Ready',
    ])
      expect(r.out).toMatch(step(s));
    expect(r.out).not.toMatch(/^why:/m);
    fits(r.out);
  });

  test('status of a Pea whose ready check fails says why in one line', async () => {
    await waitFor(
      'obs-stuck waiting on its ready check',
      async () => {
        const s = await peaStatus('obs-stuck');
        return condition(s, 'Ready')?.reason === 'RuntimeNotReady' ? s : undefined;
      },
      2 * MINUTE,
    );
    const r = await kubectlPea('status', 'obs-stuck');
    transcript('status obs-stuck', r.out);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Pea peapods-e2e\/obs-stuck: Starting \(RuntimeNotReady\)$/m);
    expect(r.out).toMatch(/^why: ready check grpc:\/\/:50061 failing for \d+s of readySeconds 300$/m);
    expect(r.out).toMatch(step('runtime started'));
    expect(r.out).not.toMatch(step('ready check passed'));
    fits(r.out);
  });

  test('cancel --wait, then status of the cancelled Pea: cancel sent, runtime exited, teardown done', async () => {
    await waitForPhase('obs-cancel', ['Ready'], 2 * MINUTE);
    const c = await kubectlPea('cancel', 'obs-cancel', '--wait', '--timeout', '2m');
    expect(c.err).toBe('');
    expect(c.code).toBe(0);
    expect(c.out).toMatch(
      /^pea peapods-e2e\/obs-cancel ended: Succeeded \(Cancelled\) \d+s after the cancel$/m,
    );
    const r = await kubectlPea('status', 'obs-cancel');
    transcript('status obs-cancel', r.out);
    expect(r.out).toMatch(/^Pea peapods-e2e\/obs-cancel: Succeeded \(Cancelled\)$/m);
    for (const s of ['Ready', 'cancel sent', 'runtime exited', 'teardown done', 'ended'])
      expect(r.out).toMatch(step(s));
    fits(r.out);
  });

  test("logs: the sidecar's and the runtime's lines interleaved, each named with its container", async () => {
    const r = await kubectlPea('logs', 'obs-cancel');
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines.some((l) => /^pea-runtime \| \{.*"msg":"ready"/.test(l))).toBe(true);
    expect(lines.some((l) => /^runtime {5}\| /.test(l))).toBe(true);
    // The sidecar's "cancelling" comes after its "ready": time order across both containers.
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    expect(at(/"msg":"ready"/)).toBeLessThan(at(/"msg":"cancelling"/));
  });

  test('list: the three with their phases and reasons', async () => {
    const r = await kubectlPea('list');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^obs-ready +Ready +\S+ +RuntimeReady /m);
    expect(r.out).toMatch(/^obs-stuck +Starting +\S+ +RuntimeNotReady /m);
    expect(r.out).toMatch(/^obs-cancel +Succeeded +\S+ +Cancelled /m);
    fits(r.out);
  });
});
