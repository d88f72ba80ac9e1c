import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { errnoText, writeUserFile } from '../core/files.js';
import type { RunModel } from '../model/types.js';
import { githubAnnotations, stepSummary } from '../reporters/github.js';
import { caseConsoles } from './case-console.js';

export interface ReportRequest {
  junit?: string;
  html?: string;
  /** Annotations and the step summary (GITHUB_ACTIONS=true, or --github). */
  github: boolean;
  /** Where annotations go: stdout, unless TAP has it. */
  annotate(text: string): void;
  env?: NodeJS.ProcessEnv;
}

/** GitHub's runner says so; --github asks for it anywhere. */
export const onGithub = (flag: boolean | undefined, env: NodeJS.ProcessEnv = process.env): boolean => Boolean(flag) || env.GITHUB_ACTIONS === 'true';

// The HTML and JUnit writers' libraries (Handlebars, xmlbuilder2) take about a fifth of a second
// to load; a run starts loading them once its first guest is booting, off its critical path,
// and JUnit's only when it was asked for.
let htmlWriter: Promise<typeof import('../reporters/html.js')> | null = null;
let junitWriter: Promise<typeof import('../reporters/junit.js')> | null = null;
export function loadReportWriters(request: { junit?: string | undefined } = {}): Promise<unknown> {
  htmlWriter ??= import('../reporters/html.js');
  if (request.junit) junitWriter ??= import('../reporters/junit.js');
  return Promise.all([htmlWriter, junitWriter]);
}

// The reports read at the end of a run, all from the model (and the consoles beside it): the
// HTML report in the results directory always, JUnit and another HTML copy where asked, and
// GitHub's annotations and step summary. The same call renders them for a saved run.
export async function writeReports(model: RunModel, resultsDir: string | null, request: ReportRequest, consolesFrom: string | null = resultsDir): Promise<string[]> {
  await loadReportWriters(request);
  const { htmlReport } = await htmlWriter!;
  const consoles = consolesFrom ? caseConsoles(consolesFrom, model) : null;
  const notes: string[] = [];
  const html = resultsDir || request.html ? htmlReport(model, consoles) : '';
  if (resultsDir) writeUserFile(join(resultsDir, 'report.html'), html);
  if (request.html) writeUserFile(request.html, html);
  if (request.junit) writeUserFile(request.junit, (await junitWriter!).junitXml(model, consoles));
  if (request.github) {
    request.annotate(githubAnnotations(model, consoles));
    const file = (request.env ?? process.env).GITHUB_STEP_SUMMARY;
    // A summary that cannot be written costs the summary, never the step.
    if (file) {
      try {
        appendFileSync(file, stepSummary(model, consoles, request.env ?? process.env));
      } catch (error) {
        notes.push(`the step summary could not be written to ${file}: ${errnoText(error)}`);
      }
    }
  }
  return notes;
}


