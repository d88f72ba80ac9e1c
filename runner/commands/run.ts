import { writeFileSync } from 'node:fs';
import { loadPatchSeries } from '../../kernels/source/patches.js';
import type { KernelSpec } from '../../kernels/spec.js';
import { FaultlineError } from '../errors.js';
import { RunEvents } from '../events.js';
import { usableCacheDir } from '../paths.js';
import type { AccelMode } from '../qemu/accel.js';
import { PerPatchReporter } from '../reporters/per-patch.js';
import { TapReporter } from '../reporters/tap.js';
import { TerminalReporter } from '../reporters/terminal.js';
import { claimResultsDirectory, jsonTarget } from '../results/location.js';
import { ResultsDirectory } from '../results/results-dir.js';
import { runSuites } from '../run.js';
import { loadSuites, suiteFiles } from '../suites.js';
import { abortOnSignals } from './interrupt.js';
import { kernelSpecFromFlags, requireSource, type KernelFlags } from './kernel-flags.js';
import { parseRunTimeout } from './run-timeout.js';

interface RunFlags extends KernelFlags {
  suite: string[];
  case: string[];
  accel: AccelMode;
  perPatch?: boolean;
  tap?: boolean;
  json?: string;
  results?: string;
  timeout?: string;
  tcgSlowdown: string;
  append: string[];
}

// `faultline run`: wires the reporters to the engine's events and turns Ctrl-C into a clean stop.
// Everything that can be checked without booting is checked before the results directory
// exists, so a bad flag or suite leaves nothing behind.
export async function runCommand(flags: RunFlags): Promise<number> {
  const limits = runLimits(flags);
  const json = flags.json === undefined ? null : jsonTarget(flags.json);
  const cacheDir = usableCacheDir();
  const spec = await kernelSpecFromFlags(flags);
  if (spec.kind === 'host' && flags.append.length > 0) {
    throw new FaultlineError('usage', '--append sets guest kernel parameters, and --kernel host boots no guest', { hint: 'Drop --append, or run on a guest kernel.' });
  }
  const perPatch = flags.perPatch ? await perPatchKernels(spec) : null;
  const events = new RunEvents();
  const out = flags.tap ? process.stderr : process.stdout;
  const terminal = new TerminalReporter(out);
  events.on((e) => terminal.handle(e));
  const loaded = await events.stage('suites', undefined, async () => loadSuites(await suiteFiles(flags.suite), flags.case), (l) => ({
    detail: `${l.planned.length} case${l.planned.length === 1 ? '' : 's'} from ${l.suites.length} suite${l.suites.length === 1 ? '' : 's'}`,
  }));

  const results = new ResultsDirectory(claimResultsDirectory(flags.results, new Date()), process.argv.slice(1), json);
  events.on((e) => results.handle(e));
  if (flags.tap) {
    const tap = new TapReporter((text) => process.stdout.write(text));
    events.on((e) => tap.handle(e));
  }
  if (perPatch) {
    const table = new PerPatchReporter(perPatch.columns, (text) => out.write(text), (text) => writeFileSync(results.path('per-patch.txt'), text));
    events.on((e) => table.handle(e));
  }
  const abort = abortOnSignals();
  try {
    const { exitCode } = await runSuites(
      {
        loaded,
        kernels: perPatch?.kernels ?? [spec],
        accel: flags.accel,
        cacheDir,
        results,
        signal: abort.signal,
        append: flags.append.flatMap((words) => words.split(/\s+/).filter(Boolean)),
        ...limits,
      },
      events,
    );
    return exitCode;
  } finally {
    await results.close();
  }
}

/** `--timeout` and `--tcg-slowdown`, checked before anything is built. */
function runLimits(flags: RunFlags): { tcgSlowdown: number; timeoutMs?: number } {
  const tcgSlowdown = Number(flags.tcgSlowdown);
  if (!Number.isFinite(tcgSlowdown) || tcgSlowdown < 1 || tcgSlowdown > 100) {
    throw new FaultlineError('usage', `--tcg-slowdown ${flags.tcgSlowdown} is not a factor between 1 and 100`, { hint: 'e.g. --tcg-slowdown 4; 1 keeps the suites\' own limits.' });
  }
  return flags.timeout === undefined ? { tcgSlowdown } : { tcgSlowdown, timeoutMs: parseRunTimeout(flags.timeout) };
}

/** The tree alone, then the tree after each patch in turn: one kernel per column. */
async function perPatchKernels(spec: KernelSpec): Promise<{ kernels: KernelSpec[]; columns: { name: string }[] }> {
  const source = requireSource(spec, '--per-patch');
  const series = await loadPatchSeries(source.patches, source.tree);
  if (series.length === 0) throw new FaultlineError('usage', '--per-patch needs a patch series', { hint: 'Add --patches FILE|DIR|MBOX|SERIES.' });
  return {
    kernels: [0, ...series.map((_, i) => i + 1)].map((take) => ({ ...source, take })),
    columns: [{ name: 'base' }, ...series.map((p) => ({ name: p.name }))],
  };
}
