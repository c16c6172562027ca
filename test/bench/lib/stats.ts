// Small statistics and formatting helpers.
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

/** Nearest-rank percentile of unsorted values (p in 0..100); NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

export interface Summary {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export function summarize(values: readonly number[]): Summary {
  return {
    n: values.length,
    p50: percentile(values, 50),
    p95: percentile(values, 95),
    p99: percentile(values, 99),
    max: values.length ? Math.max(...values) : Number.NaN,
    mean: mean(values),
  };
}

/** Milliseconds between two hrtime.bigint() readings. */
export function ms(from: bigint, to: bigint): number {
  return Number(to - from) / 1e6;
}

export function now(): bigint {
  return process.hrtime.bigint();
}

export function fmt(n: number, digits = 2): string {
  if (!Number.isFinite(n)) return 'n/a';
  return n.toFixed(digits);
}

export function fmtInt(n: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  return Math.round(n).toLocaleString('en-US');
}

export function pct(n: number, digits = 1): string {
  if (!Number.isFinite(n)) return 'n/a';
  return `${(n * 100).toFixed(digits)} %`;
}

export function mib(kib: number): string {
  if (!Number.isFinite(kib)) return 'n/a';
  if (kib >= 10 * 1024 * 1024) return `${(kib / 1024 / 1024).toFixed(1)} GiB`;
  return `${(kib / 1024).toFixed(1)} MiB`;
}

/** Fisher-Yates shuffle, in place. */
export function shuffle<T>(a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** Poll `fn` every `everyMs` until it returns true; false after timeoutMs. */
export async function until(fn: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await fn()) return true;
    await sleep(everyMs);
  }
  return fn();
}

/** Nearest-rank percentile of values already sorted ascending. */
function sortedPercentile(sorted: Float64Array, p: number): number {
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

function resampledPercentile(values: readonly number[], p: number, scratch: Float64Array): number {
  for (let i = 0; i < scratch.length; i++) scratch[i] = values[Math.floor(Math.random() * values.length)]!;
  scratch.sort();
  return sortedPercentile(scratch, p);
}

/**
 * A 95 % bootstrap interval of `percentile(a, p) / percentile(b, p)`: both sample sets resampled
 * independently (the consumers are measured on different files), `rounds` times; the 2.5th and
 * 97.5th percentiles of the ratios. [NaN, NaN] when either set is empty.
 */
export function ratioInterval(a: readonly number[], b: readonly number[], p: number, rounds = 1000): [number, number] {
  if (a.length === 0 || b.length === 0) return [Number.NaN, Number.NaN];
  const sa = new Float64Array(a.length);
  const sb = new Float64Array(b.length);
  const ratios = new Float64Array(rounds);
  for (let r = 0; r < rounds; r++) ratios[r] = resampledPercentile(a, p, sa) / resampledPercentile(b, p, sb);
  ratios.sort();
  return [sortedPercentile(ratios, 2.5), sortedPercentile(ratios, 97.5)];
}
