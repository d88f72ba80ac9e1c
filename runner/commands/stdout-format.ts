import { FaultlineError } from '../core/errors.js';
import type { RunEvent } from '../events.js';
import { KtapReporter } from '../reporters/ktap.js';
import { TapReporter } from '../reporters/tap.js';

/** What `--tap` or `--ktap` prints on stdout; the narration then goes to stderr. */
export type StdoutFormat = 'tap' | 'ktap';

// stdout holds one machine-read document or none: two formats interleaved there would be neither.
export function stdoutFormat(flags: { tap?: boolean; ktap?: boolean }): StdoutFormat | null {
  if (flags.tap && flags.ktap) {
    throw new FaultlineError('usage', '--tap and --ktap both print the results on stdout, and stdout can hold only one of them', {
      hint: 'Choose one: --tap for TAP 14 (TAP readers, CI), --ktap for KTAP v1 (the kernel\'s kunit.py parse, kselftest tooling). The other can be printed afterwards from the saved run: faultline report DIR --tap (or --ktap).',
    });
  }
  return flags.tap ? 'tap' : flags.ktap ? 'ktap' : null;
}

/** The reporter that prints `format` on stdout. */
export function stdoutReporter(format: StdoutFormat): { handle(event: RunEvent): void } {
  const write = (text: string) => process.stdout.write(text);
  return format === 'tap' ? new TapReporter(write) : new KtapReporter(write);
}
