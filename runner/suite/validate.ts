import type { SuiteCase } from './model.js';

type Report = (stepIndex: number, message: string, key?: string) => void;

const needsMemory = new Set(['fill', 'register', 'unregister', 'access', 'ioctl', 'madvise', 'fallocate', 'check', 'pagemap', 'require_thp']);
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
        start(step.args.thread);
        break;
      case 'madvise':
        aliasTarget(step.args.target);
        inRange(step.args.page, step.args.count);
        if (step.args.thread) start(step.args.thread);
        break;
      case 'join':
        // `blocked` checks the thread is still waiting, so it stays running for a later join.
        unjoined.delete(step.args.thread);
        if (!running.has(step.args.thread)) report(i, `thread "${step.args.thread}" was not started by an earlier "access" or "madvise"`, 'thread');
        else if (step.args.expect !== 'blocked') running.delete(step.args.thread);
        if (step.args.value !== undefined && step.args.expect !== 'done') report(i, '"value" is checked only with expect: done', 'value');
        break;
      case 'ioctl':
        if (step.args.offset === undefined && step.args.len === undefined) inRange(step.args.page, step.args.count);
        if (step.args.op === 'COPY' && step.args.byte === undefined) report(i, 'COPY needs "byte", the contents of the source page', 'op');
        break;
      case 'event':
        if (step.args.flags && step.args.type !== 'PAGEFAULT') report(i, '"flags" belong to PAGEFAULT events', 'flags');
        if (step.args.count !== undefined && step.args.type !== 'REMOVE' && step.args.type !== 'UNMAP') report(i, '"count" belongs to REMOVE and UNMAP events', 'count');
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
        inRange(step.args.page, step.args.present.length, 'present');
        break;
      default:
        break;
    }
  });
  // A thread nobody joins is a check nobody makes: whether it finished, faulted or still waits.
  for (const [thread, i] of unjoined) report(i, `thread "${thread}" is never joined: add a "join" step (expect: done, sigbus or blocked)`, 'thread');
}
