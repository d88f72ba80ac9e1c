import type { ConsolePolicy } from '../console/verdict.js';
import type { Step } from './schema.js';
import type { Backend } from './vocabulary.js';

// A suite after loading and validation: backends expanded, defaults applied, each step
// remembering the YAML line it came from so the helper's messages point back at it.
export interface CaseNeeds {
  kernel: string | null;
  hugepages: number;
  features: string[];
  swap: boolean;
}

export type LocatedStep = Step & { line: number };

export interface SuiteCase {
  suite: string;
  name: string;
  description: string;
  backend: Backend | null;
  needs: CaseNeeds;
  timeoutMs: number;
  /** Its `alone: true`: no other case may run beside it (compile adds the cases that need it by their steps). */
  alone: boolean;
  steps: LocatedStep[];
  /** Where the case starts in its suite file. */
  line: number;
  column: number;
}

export interface Suite {
  name: string;
  file: string;
  description: string;
  /** What kernel reports during its cases mean (`splats`: fail by default, or report) and which are allowed. */
  console: ConsolePolicy;
  cases: SuiteCase[];
}
