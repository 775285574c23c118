// Words and layout of `kubectl pea` output: kubectl's durations, and lines that fit in 100
// columns (a long message is wrapped, an over-long table cell cut).

/** Every line `kubectl pea` prints fits in this many columns. */
export const WIDTH = 100;

/** A duration as kubectl prints ages: 45s, 3m12s, 2h5m, 3d4h. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m}m${s % 60}s` : `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d${h % 24}h` : `${d}d`;
}

/**
 * Milliseconds between two API times, each cut to its whole second (undefined if either is
 * missing). The kubelet's times have seconds only and the operator's have milliseconds: cut
 * alike, every duration is the difference of the clock times printed beside it, and steps a
 * second apart never read out of order.
 */
export function between(from: string | undefined, to: string | undefined): number | undefined {
  if (!from || !to) return undefined;
  const second = (t: string) => Math.floor(new Date(t).getTime() / 1000) * 1000;
  const ms = second(to) - second(from);
  return Number.isFinite(ms) ? ms : undefined;
}

/** `text` cut to `width` columns, with an ellipsis when cut. */
export function cut(text: string, width: number): string {
  const one = text.replace(/\s+/g, ' ');
  return one.length <= width ? one : `${one.slice(0, width - 1)}…`;
}

/** `text` wrapped at word boundaries into lines of at most WIDTH columns, each after `indent`. */
export function wrap(text: string, indent = ''): string[] {
  const room = WIDTH - indent.length;
  const lines: string[] = [];
  let line = '';
  for (let word of text.replace(/\s+/g, ' ').trim().split(' ')) {
    while (word.length > room) {
      if (line) lines.push(line);
      lines.push(word.slice(0, room));
      word = word.slice(room);
      line = '';
    }
    if (!line) line = word;
    else if (line.length + 1 + word.length <= room) line += ` ${word}`;
    else {
      lines.push(line);
      line = word;
    }
  }
  if (line) lines.push(line);
  return lines.map((l) => indent + l);
}

/** Rows as columns padded to the widest cell, each cell cut to `max[i]` columns when given. */
export function table(rows: string[][], max: number[] = []): string[] {
  const cells = rows.map((r) => r.map((c, i) => (max[i] ? cut(c, max[i] as number) : c)));
  const widths = cells[0]?.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length))) ?? [];
  return cells.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] as number) + 3)))
      .join('')
      .trimEnd()
      .slice(0, WIDTH),
  );
}

/** An API time as the clock time in UTC, e.g. 10:04:31Z. */
export function clock(t: string): string {
  return new Date(t).toISOString().slice(11, 19) + 'Z';
}
