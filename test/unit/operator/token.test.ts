import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pea } from '../../../src/api/v1alpha1/types.js';
import { createLogger } from '../../../src/shared/logger.js';
import { buildTokenSecret, hookToken, loadTokenKey, peaToken } from '../../../src/operator/token.js';

const pea = (uid: string): Pea => ({
  apiVersion: 'peapods.io/v1alpha1',
  kind: 'Pea',
  metadata: { name: 'model', namespace: 'ml', uid },
  spec: { image: 'x' },
});
const key = Buffer.from('0123456789abcdef0123456789abcdef');

describe('the control token', () => {
  it('derives from the key and the Pea UID: same after a restart, different per Pea and per key', () => {
    expect(peaToken(key, pea('u1'))).toBe(peaToken(Buffer.from(key), pea('u1')));
    expect(peaToken(key, pea('u1'))).not.toBe(peaToken(key, pea('u2')));
    expect(peaToken(key, pea('u1'))).not.toBe(
      peaToken(Buffer.from('another key, 32 bytes long......'), pea('u1')),
    );
    expect(peaToken(key, pea('u1'))).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('goes into a Secret owned by the Pea, so it is deleted with it', () => {
    const s = buildTokenSecret(pea('u1'), key);
    expect(s.metadata).toMatchObject({
      name: 'model-pea-token',
      namespace: 'ml',
      ownerReferences: [{ kind: 'Pea', uid: 'u1', controller: true }],
    });
    expect(s.stringData).toEqual({ token: peaToken(key, pea('u1')) });
  });

  it('has a sibling, the hook token: per pod (a restart gets a new one), never the control token', () => {
    const restarted = { ...pea('u1'), status: { restartCount: 1 } } as Pea;
    expect(hookToken(key, pea('u1'))).toBe(hookToken(Buffer.from(key), pea('u1')));
    expect(hookToken(key, pea('u1'))).not.toBe(hookToken(key, restarted));
    expect(hookToken(key, pea('u1'))).not.toBe(hookToken(key, pea('u2')));
    expect(hookToken(key, pea('u1'))).not.toBe(peaToken(key, pea('u1')));
    expect(hookToken(key, pea('u1'))).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('needs a key file of at least 16 bytes, and without a file or a Secret uses a random key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'token-key-'));
    writeFileSync(join(dir, 'short'), 'tiny');
    writeFileSync(join(dir, 'good'), key);
    const log = createLogger('test', 'silent');
    await expect(loadTokenKey(join(dir, 'short'), undefined, log)).rejects.toThrow(
      /at least 16 random bytes/,
    );
    expect(await loadTokenKey(join(dir, 'good'), undefined, log)).toEqual(key);
    expect(await loadTokenKey(undefined, undefined, log)).toHaveLength(32);
  });
});
