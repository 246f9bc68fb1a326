/**
 * The estimator of a two-process crossover: processes A and B, each able to switch a feature on and off, loaded at
 * once in every round, A with it on in even rounds and B in odd ones. Per round d_r = ln(a_r / b_r): a process's own
 * constant bias (its JIT and GC luck) adds the same constant to every d_r, and what the machine does to both in that
 * round (load from elsewhere, drift) cancels in the ratio. With the feature's effect ln ratio δ,
 * d_r = bias ± δ + noise (+ in even rounds), so mean(d_even) − mean(d_odd) = 2δ and the ratio on/off is exp(δ). Pure
 * arithmetic: bench/ledger-crossover.ts measures the rounds.
 */

export interface CrossoverEstimate {
  /** CPU with the feature on / off (exp δ). */
  ratio: number;
  /** One standard error of δ (of ln ratio: ≈ the ratio's relative standard error). */
  se: number;
  /** The spread of one round's ln(a/b) around its group's mean (pooled sd of the even and the odd rounds). */
  roundSd: number;
  /** Mean per-round value with the feature off (both processes' off rounds). */
  offMean: number;
  /** Added by the feature: offMean × (ratio − 1), in the unit of the inputs. */
  added: number;
  /** Rounds used (after the skipped ones). */
  rounds: number;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, x) => a + x, 0) / xs.length;
/** Sum of squared deviations from the mean. */
const ss = (xs: readonly number[]): number => {
  const m = mean(xs);
  return xs.reduce((a, x) => a + (x - m) ** 2, 0);
};

/**
 * `a[r]`, `b[r]`: the two processes' per-round values (CPU per request), A on in even rounds. The first `skip` rounds
 * are left out (the JIT still settling after the warm-up reads high in whichever process is on first). NaN figures
 * when fewer than two rounds of each parity remain or a value is not positive.
 */
export function crossoverEstimate(a: readonly number[], b: readonly number[], skip = 2): CrossoverEstimate {
  if (a.length !== b.length) throw new Error(`crossover: ${a.length} rounds of A but ${b.length} of B`);
  const even: number[] = [];
  const odd: number[] = [];
  const off: number[] = [];
  for (let r = skip; r < a.length; r++) {
    const x = a[r] as number;
    const y = b[r] as number;
    const d = x > 0 && y > 0 ? Math.log(x / y) : NaN;
    (r % 2 === 0 ? even : odd).push(d);
    off.push(r % 2 === 0 ? y : x);
  }
  const rounds = even.length + odd.length;
  if (even.length < 2 || odd.length < 2) return { ratio: NaN, se: NaN, roundSd: NaN, offMean: NaN, added: NaN, rounds };
  const delta = (mean(even) - mean(odd)) / 2;
  const varEven = ss(even) / (even.length - 1);
  const varOdd = ss(odd) / (odd.length - 1);
  const ratio = Math.exp(delta);
  const offMean = mean(off);
  return {
    ratio, se: Math.sqrt(varEven / even.length + varOdd / odd.length) / 2,
    roundSd: Math.sqrt((ss(even) + ss(odd)) / (rounds - 2)), offMean, added: offMean * (ratio - 1), rounds,
  };
}
