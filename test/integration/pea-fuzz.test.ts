// Bad input at volume: 1,000 generated Peas, invalid and weird-but-valid, sent to the real API
// server while the operator runs with the RBAC it ships. Every invalid one must be refused
// with a message naming the field that was broken; every accepted one must be reconciled or
// reported on its status; the operator must never exit. Seeded, so a failure is repeatable
// (the seed is printed); fast-check generates the values.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { Pea } from '../../src/api/v1alpha1/types.js';
import { GROUP, PLURAL, VERSION } from '../../src/api/v1alpha1/types.js';
import { MAX_NAME_LENGTH } from '../../src/api/v1alpha1/types.js';
import { operatorSuite } from '../harness/suites.js';
import { until } from '../helpers/processes.js';

const SEED = Number(process.env.PEA_FUZZ_SEED ?? 20261124);
const COUNT = 1000;

const s = operatorSuite('fuzz', { args: () => ['--max-concurrent-reconciles', '8', '--log-level', 'warn'] });

/** A case: the object to send, and the field the API server must name if it is invalid. */
interface Case {
  name: string;
  spec: Record<string, unknown>;
  metadataName?: string;
  brokenField?: string;
}

const anyText = fc.string({ unit: 'grapheme', maxLength: 40 });
const port = fc.integer({ min: 1, max: 65535 });
const badPort = fc.oneof(fc.integer({ min: -100000, max: 0 }), fc.integer({ min: 65536, max: 10_000_000 }));
const readyKind = fc.constantFrom('grpc', 'http', 'tcp');

/** Invalid specs, each with the field its message must name. */
const invalid: fc.Arbitrary<Omit<Case, 'name'>> = fc.oneof(
  fc
    .integer({ min: -1_000_000, max: -1 })
    .map((n) => ({ spec: { timeouts: { readySeconds: n } }, brokenField: 'spec.timeouts.readySeconds' })),
  fc
    .integer({ min: -1_000, max: 0 })
    .map((n) => ({ spec: { timeouts: { cancelSeconds: n } }, brokenField: 'spec.timeouts.cancelSeconds' })),
  fc.integer({ min: -1_000, max: -1 }).map((n) => ({
    spec: { timeouts: { teardownSeconds: n } },
    brokenField: 'spec.timeouts.teardownSeconds',
  })),
  anyText.map((t) => ({
    spec: { timeouts: { readySeconds: t } },
    brokenField: 'spec.timeouts.readySeconds',
  })),
  fc
    .tuple(readyKind, badPort)
    .map(([k, p]) => ({ spec: { ready: { [k]: { port: p } } }, brokenField: `spec.ready.${k}.port` })),
  readyKind.map((k) => ({ spec: { ready: { [k]: {} } }, brokenField: `spec.ready.${k}.port` })),
  fc
    .tuple(readyKind, readyKind, port, port)
    .filter(([a, b]) => a !== b)
    .map(([a, b, p, q]) => ({
      spec: { ready: { [a]: { port: p }, [b]: { port: q } } },
      brokenField: 'spec.ready',
    })),
  fc.constantFrom('', 0, false, null, ['x']).map((image) => ({ spec: { image }, brokenField: 'spec.image' })),
  anyText
    .filter((t) => t !== 'Never' && t !== 'Always')
    .map((p) => ({ spec: { restartPolicy: p }, brokenField: 'spec.restartPolicy' })),
  anyText.map((c) => ({ spec: { cancel: c }, brokenField: 'spec.cancel' })),
  fc
    .string({ unit: 'grapheme', minLength: 1, maxLength: 30 })
    .filter((n) => !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(n))
    .map((n) => ({ metadataName: n, spec: {}, brokenField: 'metadata.name' })),
  // Longer than a Pea's name may be: the operator derives its pod's name and label from it.
  fc
    .integer({ min: MAX_NAME_LENGTH + 1, max: 200 })
    .map((n) => ({ metadataName: 'l'.repeat(n), spec: {}, brokenField: 'metadata.name' })),
);

/** Weird but valid: the schema takes them; the operator must reconcile or report each. */
const weird: fc.Arbitrary<Omit<Case, 'name'>> = fc.oneof(
  fc
    .array(fc.tuple(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,30}$/), anyText), { minLength: 50, maxLength: 400 })
    .map((env) => ({ spec: { env: env.map(([n, v], i) => ({ name: `${n}_${i}`, value: v })) } })),
  fc
    .record({
      readySeconds: fc.constant(0),
      cancelSeconds: fc.integer({ min: 1, max: 3 }),
      teardownSeconds: fc.constant(1),
    })
    .map((timeouts) => ({ spec: { timeouts } })),
  fc.constant({ spec: { cancel: true } }),
  fc
    .tuple(readyKind, port)
    .map(([k, p]) => ({ spec: { ready: { [k]: { port: p } }, restartPolicy: 'Always' } })),
  fc.constant({ spec: { ready: { none: {} } } }),
  fc.array(anyText, { maxLength: 20 }).map((args) => ({ spec: { command: ['/bin/runtime'], args } })),
  fc
    .dictionary(fc.stringMatching(/^[a-z]{1,10}$/), fc.stringMatching(/^[a-z0-9]{0,20}$/), { maxKeys: 10 })
    .map((labels) => ({ spec: { pod: { labels, annotations: { note: '🫛 pea' } } } })),
  // As long as a name may be: its pod's name and label still fit.
  fc
    .integer({ min: MAX_NAME_LENGTH - 10, max: MAX_NAME_LENGTH })
    .map((n) => ({ metadataName: 'l'.repeat(n), spec: {} })),
);

function cases(): Case[] {
  const arb = fc.oneof({ arbitrary: invalid, weight: 1 }, { arbitrary: weird, weight: 1 });
  return fc.sample(arb, { seed: SEED, numRuns: COUNT }).map((c, i) => ({
    ...c,
    name: `${c.metadataName ?? `p-${i}`}`.replace(
      /^l+$/,
      (l) => `${l.slice(0, l.length - String(i).length - 1)}-${i}`,
    ),
  }));
}

async function send(c: Case): Promise<{ code: number; message: string }> {
  const body = {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'Pea',
    metadata: { name: c.name },
    spec: { image: 'example/runtime:1', ...c.spec },
  };
  try {
    await s.cluster.custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: s.cluster.namespace,
      plural: PLURAL,
      body,
    });
    return { code: 201, message: '' };
  } catch (err) {
    const e = err as { code?: number; body?: unknown };
    return { code: e.code ?? 0, message: typeof e.body === 'string' ? e.body : JSON.stringify(e.body) };
  }
}

describe(`${COUNT} generated Peas against the API server and the operator (seed ${SEED})`, () => {
  it('refuses each invalid one naming the field, reconciles or reports each accepted; never exits', async () => {
    const all = cases();
    const results: Array<Case & { code: number; message: string }> = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < all.length) {
          const c = all[next++] as Case;
          results.push({ ...c, ...(await send(c)) });
        }
      }),
    );

    const invalidSent = results.filter((r) => r.brokenField);
    const misjudged = invalidSent
      .filter((r) => r.code !== 422 || !r.message.includes(r.brokenField as string))
      .map((r) => ({
        name: r.name,
        spec: r.spec,
        brokenField: r.brokenField,
        code: r.code,
        message: r.message.slice(0, 300),
      }));
    expect(misjudged).toEqual([]);
    const accepted = results.filter((r) => !r.brokenField);
    expect(
      accepted
        .filter((r) => r.code !== 201)
        .map((r) => ({ name: r.name, code: r.code, message: r.message.slice(0, 300) })),
    ).toEqual([]);

    // Every accepted Pea gets a status from the operator: Starting (its pod exists; no kubelet
    // runs here), Succeeded (cancelled before it started) or Failed with a reason.
    const names = new Set(accepted.map((r) => r.name));
    const list = async (): Promise<Pea[]> =>
      (
        (await s.cluster.custom.listNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: s.cluster.namespace,
          plural: PLURAL,
        })) as { items: Pea[] }
      ).items.filter((p) => names.has(p.metadata.name as string));
    const peas = await until(
      'every accepted Pea reconciled',
      async () => {
        const items = await list();
        return items.length === names.size &&
          items.every((p) => p.status?.phase && p.status.observedGeneration === p.metadata.generation)
          ? items
          : undefined;
      },
      240_000,
    );
    const byPhase: Record<string, number> = {};
    for (const p of peas)
      byPhase[`${p.status?.phase}${p.status?.reason ? `/${p.status.reason}` : ''}`] =
        (byPhase[`${p.status?.phase}${p.status?.reason ? `/${p.status.reason}` : ''}`] ?? 0) + 1;
    // The longest names the API server takes get their pod like any other Pea.
    const long = peas.filter((x) => (x.metadata.name as string).length > MAX_NAME_LENGTH - 10);
    expect(long.length).toBeGreaterThan(0);
    const notStarted = long.filter((p) => p.status?.phase !== 'Starting');
    expect(notStarted.map((p) => [p.metadata.name, p.status?.phase])).toEqual([]);
    expect(s.operator.child.exitCode).toBeNull();
    process.stdout.write(
      `pea fuzz (seed ${SEED}): ${results.length} sent, ${invalidSent.length} invalid refused naming the field, ` +
        `${accepted.length} accepted and reconciled ${JSON.stringify(byPhase)}; operator restarts: 0\n`,
    );
  }, 420_000);
});
