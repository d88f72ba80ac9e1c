// Counts the leaf test points of node-tap's TAP output (a subtest's own closing line is not a
// test) and prints the plain closing line CI reads: "N passed, N failed[, N skipped]".
// The type check counts as one more test. Exits 1 when anything failed.
import { Parser } from 'tap-parser';

const counts = { pass: 0, fail: 0, skip: 0 };
if (process.argv[2] === 'pass') counts.pass++;
else if (process.argv[2] === 'fail') counts.fail++;

function watch(parser) {
  let closing = 0;
  parser.on('child', (child) => {
    closing++;
    watch(child);
  });
  parser.on('assert', (result) => {
    if (closing > 0) {
      closing--; // a subtest's own line: its leaves were counted already
      return;
    }
    if (result.skip || result.todo) counts.skip++;
    else if (result.ok) counts.pass++;
    else counts.fail++;
  });
  parser.on('bailout', () => counts.fail++);
}

const parser = new Parser();
watch(parser);
process.stdin.pipe(parser);
parser.on('complete', (final) => {
  // A test file that died before any test point shows only as a failed plan.
  if (!final.ok && counts.fail === 0) counts.fail++;
  const skipped = counts.skip ? `, ${counts.skip} skipped` : '';
  console.log(`${counts.pass} passed, ${counts.fail} failed${skipped}`);
  process.exitCode = counts.fail ? 1 : 0;
});
