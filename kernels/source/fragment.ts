import { FaultlineError } from '../../runner/core/errors.js';

/** One `CONFIG_X=v` or `# CONFIG_X is not set` line of a fragment. */
export interface FragmentSetting {
  option: string;
  /** The value asked for: 'y', 'm', a string or number, or 'n' for "is not set". */
  value: string;
  /** The line as it is merged into .config. */
  text: string;
  /** 1-based line number in its fragment. */
  line: number;
}

/** A setting, or settings joined by `# faultline: or`: the first one the tree defines is merged. */
export interface FragmentRule {
  alternatives: FragmentSetting[];
}

export interface ParsedFragment {
  path: string;
  rules: FragmentRule[];
}

export interface ResolvedFragment {
  path: string;
  /** What is merged, in fragment order. */
  settings: FragmentSetting[];
  /** Rules none of whose options this tree's Kconfig defines: skipped, and said. */
  notInKernel: FragmentRule[];
  /** Rules with alternatives, and the one this tree took. */
  chosen: Array<{ rule: FragmentRule; setting: FragmentSetting }>;
}

const setLine = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/;
const unsetLine = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/;
const directiveLine = /^#\s*faultline:\s*(.*?)\s*$/;
const orHint = 'the one directive is "# faultline: or", on its own line between two settings: the first of them that the tree\'s Kconfig defines is used';

// A fragment is Kconfig's own format plus one directive, `# faultline: or`, which a plain
// merge_config.sh reads as a comment. It joins the settings on either side into alternatives,
// so one fragment serves trees that renamed or replaced an option (BASE_FULL in older trees,
// a plain BASE_SMALL in newer ones).
export function parseFragment(path: string, text: string): ParsedFragment {
  const rules: FragmentRule[] = [];
  let joinNext: number | null = null;
  let lastWasSetting = false;
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.trim();
    const at = `${path}:${i + 1}`;
    const directive = directiveLine.exec(line);
    if (directive) {
      if (directive[1] !== 'or') throw new FaultlineError('usage', `${at}: unknown fragment directive "${line}"`, { where: at, hint: orHint });
      if (!lastWasSetting || joinNext !== null) throw new FaultlineError('usage', `${at}: "# faultline: or" does not follow a setting`, { where: at, hint: orHint });
      joinNext = i + 1;
      lastWasSetting = false;
      return;
    }
    const setting = parseSetting(line, i + 1);
    if (setting) {
      if (joinNext !== null) rules[rules.length - 1]!.alternatives.push(setting);
      else rules.push({ alternatives: [setting] });
      joinNext = null;
      lastWasSetting = true;
      return;
    }
    if (line !== '' && joinNext !== null) throw notFollowed(path, joinNext);
    if (line !== '') lastWasSetting = false;
  });
  if (joinNext !== null) throw notFollowed(path, joinNext);
  return { path, rules };
}

function notFollowed(path: string, line: number): FaultlineError {
  return new FaultlineError('usage', `${path}:${line}: "# faultline: or" is not followed by a setting`, { where: `${path}:${line}`, hint: orHint });
}

function parseSetting(line: string, number: number): FragmentSetting | null {
  const unset = unsetLine.exec(line);
  if (unset) return { option: unset[1]!, value: 'n', text: line, line: number };
  const set = setLine.exec(line);
  if (!set) return null;
  const value = set[2]!;
  const unquoted = value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
  return { option: set[1]!, value: unquoted, text: line, line: number };
}

// Against the set of options the tree defines: an option the tree does not have is skipped and
// named (never merged, where olddefconfig would drop it without a word), and of alternatives the
// first the tree has is taken.
export function resolveFragment(fragment: ParsedFragment, symbols: ReadonlySet<string>): ResolvedFragment {
  const resolved: ResolvedFragment = { path: fragment.path, settings: [], notInKernel: [], chosen: [] };
  for (const rule of fragment.rules) {
    const setting = rule.alternatives.find((s) => symbols.has(s.option));
    if (!setting) {
      resolved.notInKernel.push(rule);
      continue;
    }
    resolved.settings.push(setting);
    if (rule.alternatives.length > 1) resolved.chosen.push({ rule, setting });
  }
  return resolved;
}

/** The text appended to the base config: every merged setting, fragment by fragment. */
export function mergedText(fragments: readonly ResolvedFragment[]): string {
  return fragments.flatMap((f) => f.settings.map((s) => `${s.text}\n`)).join('');
}

/** "CONFIG_X=y [path:12] is not in this kernel: skipped", one per skipped rule. */
export function notInKernelNotes(fragments: readonly ResolvedFragment[]): string[] {
  return fragments.flatMap((f) =>
    f.notInKernel.map((rule) => {
      const lines = rule.alternatives.map((s) => s.line);
      const where = `${f.path}:${lines.length > 1 ? `${lines[0]}-${lines[lines.length - 1]}` : lines[0]}`;
      const asked = rule.alternatives.map((s) => `"${s.text}"`);
      return asked.length > 1 ? `none of ${asked.join(', ')} [${where}] is in this kernel: skipped` : `${asked[0]} [${where}] is not in this kernel: skipped`;
    }),
  );
}

/** Where the last merged setting of `option` came from, as path:line. */
export function settingOrigin(fragments: readonly ResolvedFragment[], option: string): string | null {
  for (const f of [...fragments].reverse()) {
    const s = [...f.settings].reverse().find((x) => x.option === option);
    if (s) return `${f.path}:${s.line}`;
  }
  return null;
}
