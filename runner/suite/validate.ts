import { validateChildren } from './children.js';
import type { SuiteCase } from './model.js';

type Report = (stepIndex: number, message: string, key?: string) => void;

const needsMemory = new Set(['fill', 'register', 'unregister', 'access', 'ioctl', 'madvise', 'fallocate', 'check', 'pagemap', 'require_thp', 'mremap', 'munmap']);
const needsUffd = new Set(['register', 'unregister', 'require_ioctl', 'ioctl', 'event', 'no_event']);

// The cross-field rules no per-key schema can see: order of steps, ranges inside the mapping,
// threads joined only after they start. One function, exact messages.
export function validateCase(c: SuiteCase, report: Report): void {
  let pages = 0;
  let alias = false;
  let opened = false;
  const running = new Set<string>();
  /** Where each thread was last started, until a join looks at it. */
  const unjoined = new Map<string, number>();

  c.steps.forEach((step, i) => {
    if (needsMemory.has(step.op) && pages === 0) report(i, `"${step.op}" needs a "map" step before it`);
    if (needsUffd.has(step.op) && !opened) report(i, `"${step.op}" needs an "open" step before it`);
    const inRange = (page: number, count: number, key = 'page') => {
      if (pages > 0 && page + count > pages) report(i, `${count === 1 ? `page ${page} lies` : `pages ${page}..${page + count - 1} lie`} outside the ${pages}-page mapping`, key);
    };
    const aliasTarget = (target: 'reg' | 'alias') => {
      if (target === 'alias' && pages > 0 && !alias) report(i, 'target "alias" needs "alias: true" on the map step', 'target');
    };
    const start = (thread: string) => {
      if (running.has(thread)) report(i, `thread "${thread}" is still running: join it before reusing the name`, 'thread');
      running.add(thread);
      unjoined.set(thread, i);
    };

    switch (step.op) {
      case 'open':
        if (opened) report(i, 'a case opens one userfaultfd; remove the second "open"');
        opened = true;
        break;
      case 'map':
        if (pages > 0) report(i, 'a case maps one region; remove the second "map"');
        if (!c.backend) report(i, 'no backend: give "backend" here or "backends" on the case', 'backend');
        if (step.args.alias && c.backend === 'anon') report(i, 'an alias needs a file: use backend shmem or hugetlb', 'alias');
        if (step.args.thp && (c.backend !== 'shmem' || step.args.pages !== 512)) report(i, 'a transparent huge page is shmem of 512 pages (2 MiB): "thp: true" needs backend shmem and "pages: 512"', 'thp');
        pages = step.args.pages;
        alias = step.args.alias;
        break;
      case 'fill':
      case 'check':
        aliasTarget(step.args.target);
        inRange(step.args.page, step.args.count);
        break;
      case 'register':
      case 'unregister':
        inRange(step.args.page, step.args.count ?? Math.max(pages - step.args.page, 1));
        break;
      case 'access':
        aliasTarget(step.args.target);
        inRange(step.args.page, 1);
        if (step.args.op === 'write' && step.args.byte === undefined) report(i, 'a write needs "byte", the value written', 'op');
        start(threadOf(step.args.thread, step.args.child));
        break;
      case 'madvise':
        aliasTarget(step.args.target);
        inRange(step.args.page, step.args.count);
        if (step.args.thread) start(step.args.thread);
        break;
      case 'mremap':
        inRange(step.args.page, step.args.count ?? Math.max(pages - step.args.page, 1));
        // Without MREMAP_FIXED the kernel moves only a mapping it cannot grow in place.
        if (!step.args.fixed && c.backend === 'hugetlb') report(i, '"fixed: false" grows the mapping by a page so the kernel has to move it, and a hugetlb mapping cannot grow', 'fixed');
        if (step.args.thread) start(step.args.thread);
        break;
      case 'munmap':
        inRange(step.args.page, step.args.count);
        if (step.args.thread) start(step.args.thread);
        break;
      case 'join': {
        // A join without a thread joins a child (children.ts checks those).
        if (step.args.thread === undefined) break;
        const thread = threadOf(step.args.thread, step.args.child);
        // `blocked` checks the thread is still waiting, so it stays running for a later join.
        unjoined.delete(thread);
        if (!running.has(thread)) report(i, `thread "${thread}" was not started by an earlier "access", "madvise", "mremap" or "munmap"`, 'thread');
        else if (step.args.expect !== 'blocked') running.delete(thread);
        if (step.args.value !== undefined && step.args.expect !== 'done') report(i, '"value" is checked only with expect: done', 'value');
        break;
      }
      case 'ioctl':
        if (step.args.offset === undefined && step.args.len === undefined) inRange(step.args.page, step.args.count);
        if (step.args.op === 'COPY' && step.args.byte === undefined) report(i, 'COPY needs "byte", the contents of the source page', 'op');
        break;
      case 'event':
        if (step.args.flags && step.args.type !== 'PAGEFAULT') report(i, '"flags" belong to PAGEFAULT events', 'flags');
        if (step.args.count !== undefined && step.args.type !== 'REMOVE' && step.args.type !== 'UNMAP') report(i, '"count" belongs to REMOVE and UNMAP events', 'count');
        if (step.args.old && ((step.args.type !== 'UNMAP' && step.args.type !== 'REMOVE') || step.args.page === undefined)) report(i, '"old" addresses the pages where the last "mremap" took them from: it belongs to UNMAP and REMOVE events with "page"', 'old');
        if (step.args.page !== undefined && step.args.type === 'REMAP') report(i, 'a REMAP event is checked against the last "mremap" step (its old place, new place and length): it takes no "page"', 'page');
        break;
      case 'fallocate':
        if (c.backend === 'anon') report(i, 'fallocate needs a file: use backend shmem or hugetlb');
        inRange(step.args.page, step.args.count);
        break;
      case 'require_thp':
        aliasTarget(step.args);
        break;
      case 'pagemap':
        aliasTarget(step.args.target);
        if (!step.args.present && !step.args.wp) report(i, 'give "present" or "wp" (or both): the bits to check, one per page');
        else if (step.args.present && step.args.wp && step.args.present.length !== step.args.wp.length) report(i, `"present" has ${step.args.present.length} pages and "wp" ${step.args.wp.length}: give both for the same pages`, 'wp');
        inRange(step.args.page, (step.args.present ?? step.args.wp ?? []).length, step.args.present ? 'present' : 'wp');
        break;
      default:
        break;
    }
  });
  // A thread nobody joins is a check nobody makes: whether it finished, faulted or still waits.
  for (const [thread, i] of unjoined) report(i, `thread "${thread}" is never joined: add a "join" step (expect: done, sigbus or blocked)`, 'thread');
  validateChildren(c, report);
}

/** A thread's name as messages say it: a child's threads are its own (t1 in c1 is not the case's t1). */
const threadOf = (thread: string, child: string | undefined) => (child ? `${thread}" in child "${child}` : thread);
