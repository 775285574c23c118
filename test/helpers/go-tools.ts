// The Go tools hack/go-tools.sh builds once and caches (promtool, grpcurl): real outside
// tools the tests run against what the project serves. `make test` builds them before jest.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './processes.js';

/** The absolute path of a cached Go tool, built first if missing. */
export function goTool(name: 'promtool' | 'grpcurl'): string {
  return execFileSync(join(ROOT, 'hack/go-tools.sh'), [name], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}
