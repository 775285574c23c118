// Steady traffic for the PeaSet's e2e test: `node load.js URL [CONCURRENCY]` sends requests
// to URL, each on a new connection (so kube-proxy balances every one), CONCURRENCY (4) at a
// time, with a 10 s timeout. Once a second, and at SIGTERM, it prints one JSON line: the
// requests that succeeded and failed so far, and the failures by cause.
import { request } from 'node:http';

const url = new URL(process.argv[2] ?? 'http://127.0.0.1:8080/');
const concurrency = Number(process.argv[3] ?? 4);
const totals = { ok: 0, failed: 0, causes: {} as Record<string, number> };
let running = true;

function once(): Promise<void> {
  return new Promise((resolve) => {
    const fail = (cause: string): void => {
      totals.failed++;
      totals.causes[cause] = (totals.causes[cause] ?? 0) + 1;
      resolve();
    };
    const req = request(url, { agent: false, timeout: 10_000, headers: { connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode === 200) {
          totals.ok++;
          resolve();
        } else fail(`HTTP ${res.statusCode}`);
      });
      res.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
    req.end();
  });
}

async function client(): Promise<void> {
  while (running) await once();
}

const print = (): void => void process.stdout.write(`${JSON.stringify({ t: Date.now(), ...totals })}\n`);
const timer = setInterval(print, 1000);
const clients = Array.from({ length: concurrency }, () => client());
process.on('SIGTERM', () => {
  running = false;
  clearInterval(timer);
  void Promise.all(clients).then(() => {
    print();
    process.exit(0);
  });
});
