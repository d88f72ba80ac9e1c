import type { SuiteCase } from './model.js';

type Report = (stepIndex: number, message: string, key?: string) => void;

/** Steps that run inside a child when they name one. */
const actsInChild = new Set(['access', 'join', 'check', 'pagemap']);

// The rules of a case's children (a `fork` step's child process, an actor like a thread): a
// child is forked once, acted in until it is joined, and joined before the case ends; its
// userfaultfd (`uffd: NAME`) exists only after the FORK event that hands it over.
export function validateChildren(c: SuiteCase, report: Report): void {
  const forked = new Map<string, number>();
  const joined = new Set<string>();
  const handedOver = new Set<string>();

  c.steps.forEach((step, i) => {
    const args = (step.args ?? {}) as { child?: string; uffd?: string; thread?: string };
    if (step.op === 'fork') {
      if (forked.has(args.child!)) report(i, `child "${args.child}" was forked before: give each child its own name`, 'child');
      forked.set(args.child!, i);
      return;
    }
    if (args.child !== undefined) {
      if (!forked.has(args.child)) report(i, `child "${args.child}" is not forked by an earlier "fork" step`, 'child');
      else if (step.op === 'event') {
        if (step.args.type !== 'FORK') report(i, '"child" names the child whose userfaultfd a FORK event hands over: it belongs to type FORK', 'child');
        else if (handedOver.has(args.child)) report(i, `child "${args.child}" already has the userfaultfd of a FORK event`, 'child');
        else handedOver.add(args.child);
      } else if (joined.has(args.child)) report(i, `child "${args.child}" was joined before: it has exited`, 'child');
      else if (!actsInChild.has(step.op)) report(i, `"${step.op}" does not run in a child`, 'child');
    }
    if (step.op === 'join' && args.thread === undefined) {
      if (args.child === undefined) report(i, 'join needs "thread" or "child" (the forked child to wait for)');
      else {
        if (step.args.expect !== 'done') report(i, 'a child is joined with expect: done (it exits 0 when told to); a signal that kills it fails the step it was running, naming the signal', 'expect');
        if (step.args.value !== undefined) report(i, '"value" is what a thread read: join the child\'s thread for it', 'value');
        joined.add(args.child);
      }
    }
    if (args.uffd !== undefined && !handedOver.has(args.uffd)) report(i, `uffd "${args.uffd}" is the one a FORK event hands over: add "event: { type: FORK, child: ${args.uffd} }" before this step`, 'uffd');
  });
  // A child nobody joins is a verdict nobody reads: how it ended.
  for (const [child, i] of forked) if (!joined.has(child)) report(i, `child "${child}" is never joined: add "join: { child: ${child}, expect: done }"`, 'child');
}
