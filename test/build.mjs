// Run once by tap before any test file (package.json "tap.before"): the tests drive faultline's
// CLI from dist/, so dist/ is built here when a source is newer than the last build, and only
// then (.ci/setup has usually built it already).
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const built = (() => {
  try {
    return statSync(join(root, 'dist', 'runner', 'cli.js')).mtimeMs;
  } catch {
    return 0;
  }
})();

function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) latest = Math.max(latest, newest(path));
    else if (entry.name.endsWith('.ts')) latest = Math.max(latest, statSync(join(root, path)).mtimeMs);
  }
  return latest;
}

const sources = Math.max(statSync(join(root, 'tsconfig.json')).mtimeMs, ...['runner', 'kernels', 'images', 'test', 'bench'].map(newest));
if (sources > built) {
  process.stderr.write('test: building dist/ (tsc), as a source is newer than it\n');
  execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
}
