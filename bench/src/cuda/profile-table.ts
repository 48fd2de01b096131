/**
 * Prints where a CUDA plan's GPU time goes: each step timed with an event on either side
 * (`Plan.profile`), grouped by op kind. Events between steps inflate the smallest kernels
 * (each costs at least the event's own ~2 us), so read the big rows; the replayed CUDA
 * graph is faster than the sum.
 */
import type { Plan } from '@rwkv-streams/cuda';

/** The op kind of a step label ("Mul+Add -> name [..]" -> "Mul+Add"). */
export function stepKind(label: string): string {
  if (label.startsWith('Linear input to')) return 'Cast for Linear';
  return label
    .split(' ->')[0]!
    .replace(/ #\d+$/, '')
    .replace(/^(Linear|Concat) .*/, '$1')
    .replace(/\(.*\)/, '')
    .trim();
}

/** Runs the plan twice (the first warms) and prints the top `rows` op kinds as a table. */
export function printProfile(title: string, plan: Plan, rows = 16): void {
  plan.profile();
  const steps = plan.profile();
  const total = steps.reduce((a, s) => a + s.ms, 0);
  const byKind = new Map<string, { ms: number; n: number }>();
  for (const s of steps) {
    const kind = stepKind(s.label);
    const k = byKind.get(kind) ?? { ms: 0, n: 0 };
    k.ms += s.ms;
    k.n++;
    byKind.set(kind, k);
  }
  console.log(
    `\n## ${title}: ${steps.length} steps, ${total.toFixed(3)} ms of GPU time (events between steps)`,
  );
  console.log('| op | steps | ms | share |');
  console.log('| --- | --- | --- | --- |');
  for (const [k, v] of [...byKind].sort((a, b) => b[1].ms - a[1].ms).slice(0, rows))
    console.log(`| ${k} | ${v.n} | ${v.ms.toFixed(3)} | ${((100 * v.ms) / total).toFixed(1)}% |`);
  console.log('\nslowest steps (ms):');
  for (const s of [...steps].sort((a, b) => b.ms - a.ms).slice(0, 6))
    console.log(`  ${s.ms.toFixed(3)}  ${s.label}`);
}
