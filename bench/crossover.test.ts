import { describe, expect, it } from 'vitest';
import { crossoverEstimate } from './crossover.js';

/** A seeded uniform generator (mulberry32) and standard normals from it (Box–Muller). */
function normals(seed: number): () => number {
  let s = seed >>> 0;
  const uniform = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

interface Rounds { a: number[]; b: number[] }

/**
 * Per-round CPU of A and B, A on in even rounds: base × the process's bias × the round's drift (common to both)
 * × ratio when on × per-process noise (lognormal, sd `noise`).
 */
function simulate(o: { rounds: number; ratio: number; biasA: number; biasB: number; drift: number; noise: number; seed: number }): Rounds {
  const z = normals(o.seed);
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < o.rounds; r++) {
    const drift = Math.exp(o.drift * z());
    const aOn = r % 2 === 0;
    a.push(1000 * o.biasA * drift * (aOn ? o.ratio : 1) * Math.exp(o.noise * z()));
    b.push(1000 * o.biasB * drift * (aOn ? 1 : o.ratio) * Math.exp(o.noise * z()));
  }
  return { a, b };
}

describe('crossoverEstimate', () => {
  it('recovers the ratio exactly through a per-process bias and a common drift when there is no other noise', () => {
    const { a, b } = simulate({ rounds: 40, ratio: 1.04, biasA: 1.08, biasB: 0.95, drift: 0.15, noise: 0, seed: 1 });
    const e = crossoverEstimate(a, b);
    expect(e.ratio).toBeCloseTo(1.04, 10);
    expect(e.se).toBeLessThan(1e-12);
    expect(e.rounds).toBe(38);
    expect(e.added).toBeCloseTo(e.offMean * 0.04, 8);
    // The drift (±15 % a round) is not in the estimate, but it is in what one process alone reads on vs off.
    const meanOf = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(meanOf(a.filter((_, r) => r % 2 === 0)) / meanOf(a.filter((_, r) => r % 2 === 1)) - 1.04)).toBeGreaterThan(0.01);
  });

  it('leaves out the first rounds', () => {
    const { a, b } = simulate({ rounds: 20, ratio: 1.02, biasA: 1, biasB: 1.03, drift: 0.1, noise: 0, seed: 2 });
    a[0] = (a[0] as number) * 1.5; // the process on first, its JIT still settling
    b[1] = (b[1] as number) * 1.3;
    expect(crossoverEstimate(a, b).ratio).toBeCloseTo(1.02, 10);
    expect(crossoverEstimate(a, b, 0).ratio).toBeGreaterThan(1.05);
  });

  it('gives a standard error that matches the noise and shrinks as the square root of the rounds', () => {
    const noise = 0.03; // per process per round: ln(a/b) has sd noise·√2
    const e60 = crossoverEstimate(...args(simulate({ rounds: 62, ratio: 1.03, biasA: 0.96, biasB: 1.05, drift: 0.15, noise, seed: 3 })));
    const expected = Math.sqrt(2 * (2 * noise ** 2) / 30) / 2;
    expect(e60.se / expected).toBeGreaterThan(0.7);
    expect(e60.se / expected).toBeLessThan(1.4);
    expect(e60.roundSd / (noise * Math.SQRT2)).toBeGreaterThan(0.75);
    expect(e60.roundSd / (noise * Math.SQRT2)).toBeLessThan(1.3);
    const e240 = crossoverEstimate(...args(simulate({ rounds: 242, ratio: 1.03, biasA: 0.96, biasB: 1.05, drift: 0.15, noise, seed: 4 })));
    expect(e240.se / e60.se).toBeGreaterThan(0.35);
    expect(e240.se / e60.se).toBeLessThan(0.7);
  });

  it('covers the true ratio within 1.96 standard errors about 95 % of the time', () => {
    let inside = 0;
    const runs = 400;
    for (let seed = 100; seed < 100 + runs; seed++) {
      const e = crossoverEstimate(...args(simulate({ rounds: 62, ratio: 1.05, biasA: 1.04, biasB: 0.97, drift: 0.15, noise: 0.04, seed })));
      if (Math.abs(Math.log(e.ratio) - Math.log(1.05)) < 1.96 * e.se) inside++;
    }
    expect(inside / runs).toBeGreaterThan(0.9);
    expect(inside / runs).toBeLessThan(0.985);
  });

  it('gives NaN with fewer than two rounds of each parity or a non-positive value, and refuses unequal lengths', () => {
    expect(crossoverEstimate([1, 1, 1, 1, 1], [1, 1, 1, 1, 1]).ratio).toBeNaN();
    expect(crossoverEstimate([1, 1, 1, 1, 0, 1], [1, 1, 1, 1, 1, 1]).ratio).toBeNaN();
    expect(crossoverEstimate([1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]).ratio).toBe(1);
    expect(() => crossoverEstimate([1, 2], [1])).toThrow(/rounds/);
  });
});

function args(r: Rounds): [number[], number[]] {
  return [r.a, r.b];
}
