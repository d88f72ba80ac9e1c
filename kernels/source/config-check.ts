import { parseKernelConfig } from '../config.js';

// One requested option that olddefconfig dropped or changed.
export interface ConfigMismatch {
  option: string;
  /** What the fragments asked for: 'y', 'm', 'n' (for "is not set"), or a value. */
  wanted: string;
  /** What .config ended up with: a value, 'n', or null when .config does not mention it. */
  got: string | null;
}

// Kconfig silently drops an option whose dependencies are not met, so after merging the
// fragments every option they set is compared with the resulting .config (the last assignment
// in the fragments wins, as in Kconfig). Pure, so it is tested on small texts.
export function mergedConfigCheck(fragmentsText: string, dotConfigText: string): ConfigMismatch[] {
  const wanted = parseKernelConfig(fragmentsText);
  const actual = parseKernelConfig(dotConfigText);
  const mismatches: ConfigMismatch[] = [];
  for (const [option, value] of wanted) {
    const want = value === '' ? 'n' : value;
    const got = actual.get(option) ?? null;
    const effective = got ?? 'n';
    if (want === effective) continue;
    mismatches.push({ option, wanted: want, got });
  }
  return mismatches;
}

/** "CONFIG_X=y ended up unset (probably an unmet dependency)", one per mismatch. */
export function describeMismatch(m: ConfigMismatch): string {
  const asked = m.wanted === 'n' ? `# ${m.option} is not set` : `${m.option}=${m.wanted}`;
  const ended = m.got === null ? 'is absent from .config' : m.got === 'n' ? 'ended up not set' : `ended up ${m.option}=${m.got}`;
  return `${asked} ${ended} (probably an unmet dependency)`;
}
