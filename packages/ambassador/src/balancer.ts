// Picks one upstream among the available ones: smooth weighted round-robin (nginx's algorithm:
// weights 3:1 give a a b a, not a a a b) or least in-flight requests per unit of weight.
import type { Balance } from './types.ts';

export interface Candidate {
  readonly weight: number;
  readonly inFlight: number;
  /** Round-robin state, owned by the balancer. */
  currentWeight: number;
}

export type Pick = <C extends Candidate>(candidates: readonly C[]) => C | undefined;

export function smoothWeightedRoundRobin<C extends Candidate>(candidates: readonly C[]): C | undefined {
  let best: C | undefined;
  let total = 0;
  for (const c of candidates) {
    c.currentWeight += c.weight;
    total += c.weight;
    if (best === undefined || c.currentWeight > best.currentWeight) best = c;
  }
  if (best) best.currentWeight -= total;
  return best;
}

/** Fewest in-flight requests per weight; ties go round-robin so an idle pool still spreads. */
export function leastRequests<C extends Candidate>(candidates: readonly C[]): C | undefined {
  let best: C | undefined;
  let bestLoad = Number.POSITIVE_INFINITY;
  const ties: C[] = [];
  for (const c of candidates) {
    const load = c.inFlight / c.weight;
    if (load < bestLoad) {
      bestLoad = load;
      best = c;
      ties.length = 0;
      ties.push(c);
    } else if (load === bestLoad) ties.push(c);
  }
  return ties.length > 1 ? smoothWeightedRoundRobin(ties) : best;
}

export function balancer(balance: Balance): Pick {
  return balance === 'least-requests' ? leastRequests : smoothWeightedRoundRobin;
}
