// Small helpers shared by the benchmarks: percentiles and a fixed-width table.
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? NaN;
}

export interface Row {
  what: string;
  baseline: number;
  ours: number;
  unit: string;
  target?: string;
}

export function printTable(title: string, rows: Row[]): void {
  const fmt = (n: number): string => (Number.isFinite(n) ? (n >= 100 ? n.toFixed(0) : n.toFixed(2)) : '-');
  process.stdout.write(`\n${title}\n`);
  process.stdout.write(
    `${'measure'.padEnd(44)}${'baseline'.padStart(10)}${'peapods'.padStart(10)}${'ratio'.padStart(8)}  target\n`,
  );
  for (const r of rows) {
    const ratio = r.baseline > 0 ? (r.ours / r.baseline).toFixed(2) : '-';
    process.stdout.write(
      `${`${r.what} (${r.unit})`.padEnd(44)}${fmt(r.baseline).padStart(10)}${fmt(r.ours).padStart(10)}` +
        `${ratio.padStart(8)}  ${r.target ?? ''}\n`,
    );
  }
}
