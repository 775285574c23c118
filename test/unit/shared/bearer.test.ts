// The control token at both ends: what the operator attaches (bearerMetadata,
// bearerInterceptor) is exactly what the sidecar's check accepts, and nothing else is.
import { afterAll, describe, expect, it, jest } from '@jest/globals';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { controlAuth } from '../../../src/runtime/sidecar/control-auth.js';
import {
  AUTHORIZATION,
  bearerInterceptor,
  bearerMetadata,
  presentedToken,
  readTokenFile,
  tokenMatches,
} from '../../../src/shared/bearer.js';

const dir = mkdtempSync(join(tmpdir(), 'peapods-token-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TOKEN = 'c2VjcmV0LXRva2VuLWZvci10ZXN0cw==';

function memoryLog(): { log: pino.Logger; lines: () => string[] } {
  let out = '';
  const log = pino({ level: 'info' }, new Writable({ write: (c, _e, cb) => ((out += String(c)), cb()) }));
  return { log, lines: () => out.split('\n').filter(Boolean) };
}

describe('bearerMetadata', () => {
  it('carries "authorization: Bearer <token>", which the check reads back', () => {
    const md = bearerMetadata(`${TOKEN}\n`);
    expect(md.get(AUTHORIZATION)).toEqual([`Bearer ${TOKEN}`]);
    expect(presentedToken(md.get(AUTHORIZATION))).toEqual({ token: TOKEN });
  });

  it.each(['', '  ', 'two words', 'tab\there', 'naïve'])('refuses %j, which could never match', (t) => {
    expect(() => bearerMetadata(t)).toThrow('printable ASCII');
  });

  it('bearerInterceptor asks for the token on every call and replaces any entry already there', () => {
    let token = 'first';
    const sent: grpc.Metadata[] = [];
    const interceptor = bearerInterceptor(() => token);
    const next = (): grpc.InterceptingCall =>
      new grpc.InterceptingCall(null as unknown as grpc.InterceptingCall, {
        start: (md) => void sent.push(md),
      });
    const start = (): void => {
      const md = new grpc.Metadata();
      md.set(AUTHORIZATION, 'Bearer stale');
      interceptor({} as grpc.InterceptorOptions, next).start(md, {});
    };
    start();
    token = 'second';
    start();
    expect(sent.map((m) => m.get(AUTHORIZATION))).toEqual([['Bearer first'], ['Bearer second']]);
  });
});

describe('presentedToken', () => {
  it.each([
    [[], 'no authorization sent'],
    [['Bearer a', 'Bearer b'], 'more than one authorization entry'],
    [[TOKEN], 'authorization is not "Bearer <token>"'],
    [['Basic dXNlcjpwYXNz'], 'authorization is not "Bearer <token>"'],
    [['Bearer'], 'authorization is not "Bearer <token>"'],
    [['Bearer a b'], 'authorization is not "Bearer <token>"'],
  ])('%j: %s', (values, problem) => {
    expect(presentedToken(values)).toEqual({ problem });
  });

  it('takes the scheme in any case, as RFC 6750 does', () => {
    expect(presentedToken(['bearer x'])).toEqual({ token: 'x' });
  });
});

describe('tokenMatches', () => {
  it('is true only for the same string, whatever the lengths', () => {
    expect(tokenMatches(TOKEN, TOKEN)).toBe(true);
    expect(tokenMatches(TOKEN, `${TOKEN}x`)).toBe(false);
    expect(tokenMatches(TOKEN, TOKEN.slice(0, -1))).toBe(false);
    expect(tokenMatches(TOKEN, '')).toBe(false);
    expect(tokenMatches(TOKEN, 'x'.repeat(10000))).toBe(false);
  });
});

describe('readTokenFile', () => {
  it('trims the newline a Secret made from a file keeps; missing or blank is null', () => {
    const f = join(dir, 'token');
    writeFileSync(f, `${TOKEN}\n`);
    expect(readTokenFile(f)).toBe(TOKEN);
    writeFileSync(f, ' \n');
    expect(readTokenFile(f)).toBeNull();
    expect(readTokenFile(join(dir, 'missing'))).toBeNull();
    expect(readTokenFile(dir)).toBeNull(); // a directory
  });
});

describe('controlAuth', () => {
  it('without a token file lets everything through and warns once that it does', () => {
    const { log, lines } = memoryLog();
    const auth = controlAuth(undefined, log);
    expect(auth.enabled).toBe(false);
    expect(auth.check([], 'Cancel', 'peer')).toBeNull();
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).toContain('control calls (Cancel, Status, Watch) are unauthenticated');
  });

  it('takes the right token, refuses anything else saying what to send, and never logs a token', () => {
    const f = join(dir, 'auth-token');
    writeFileSync(f, TOKEN);
    const { log, lines } = memoryLog();
    const auth = controlAuth(f, log);
    expect(auth.check([`Bearer ${TOKEN}`], 'Cancel', 'p')).toBeNull();
    for (const values of [[], ['Bearer wrong-guess-123'], [TOKEN], [`Bearer ${TOKEN}`, `Bearer ${TOKEN}`]]) {
      expect(auth.check(values, 'Cancel', 'p')).toEqual({
        code: grpc.status.UNAUTHENTICATED,
        details: expect.stringContaining('send "authorization: Bearer <token>"'),
      });
    }
    expect(lines().length).toBeGreaterThan(0);
    expect(lines().join('\n')).not.toContain(TOKEN);
    expect(lines().join('\n')).not.toContain('wrong-guess-123');
  });

  it('refuses when the file is gone, and follows it when it comes back (never falls open)', () => {
    const f = join(dir, 'rotating');
    writeFileSync(f, 'one');
    const { log, lines } = memoryLog();
    const auth = controlAuth(f, log);
    expect(auth.check(['Bearer one'], 'Cancel', 'p')).toBeNull();
    unlinkSync(f);
    expect(auth.check(['Bearer one'], 'Cancel', 'p')?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(lines().at(-1)).toContain('token file unreadable or empty');
    writeFileSync(f, 'two\n');
    expect(auth.check(['Bearer one'], 'Cancel', 'p')?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(auth.check(['Bearer two'], 'Cancel', 'p')).toBeNull();
  });

  it('logs a flood of refusals as a few lines and a count, not a line each', () => {
    jest.useFakeTimers();
    try {
      const f = join(dir, 'flood');
      writeFileSync(f, TOKEN);
      const { log, lines } = memoryLog();
      const auth = controlAuth(f, log);
      for (let i = 0; i < 1000; i++) auth.check([], 'Cancel', 'p');
      jest.advanceTimersByTime(1000);
      const logged = lines().map((l) => JSON.parse(l) as { msg: string; suppressed?: number });
      expect(logged.filter((l) => l.msg === 'control call refused').length).toBeLessThanOrEqual(5);
      const summary = logged.find((l) => l.suppressed !== undefined);
      expect(summary?.suppressed).toBe(1000 - logged.filter((l) => l.msg === 'control call refused').length);
    } finally {
      jest.useRealTimers();
    }
  });
});
