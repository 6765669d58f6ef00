/**
 * The highest number `n` for which `exists(n)` holds, assuming numbers are used from 1 upwards
 * without gaps: probes 1, 2, 4, 8, … then halves the gap, so a chain of a million entries costs
 * about 40 requests instead of a listing of the million. A gap (a deleted entry) can stop it
 * early; callers list onwards from the result, which finds what lies past a gap.
 */
export async function probeHighest(exists: (n: number) => Promise<boolean>): Promise<number> {
  if (!(await exists(1))) return 0;
  let low = 1;
  let high = 2;
  while (await exists(high)) {
    low = high;
    high *= 2;
  }
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    if (await exists(mid)) low = mid;
    else high = mid;
  }
  return low;
}
