/** FILETIME (MS-DTYP 2.3.3): 100 ns intervals since 1601-01-01 UTC. */

const EPOCH_DIFF_MS = 11_644_473_600_000n;

export function filetimeToDate(ft: bigint): Date {
  if (ft === 0n) return new Date(0);
  const ms = ft / 10_000n - EPOCH_DIFF_MS;
  // Dates past JavaScript's range (±8.64e15 ms) come from broken servers; clamp instead of throwing.
  const clamped = ms > 8_640_000_000_000_000n ? 8_640_000_000_000_000n : ms < -8_640_000_000_000_000n ? -8_640_000_000_000_000n : ms;
  return new Date(Number(clamped));
}

export function dateToFiletime(d: Date): bigint {
  return (BigInt(d.getTime()) + EPOCH_DIFF_MS) * 10_000n;
}
