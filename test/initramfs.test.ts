import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { execa } from 'execa';
import t from 'tap';
import { isStaticElf } from '../images/elf.js';
import { BUSYBOX_APPLETS, buildBaseImage, guestAgentPath, planArchive } from '../images/initramfs.js';
import { FaultlineError } from '../runner/core/errors.js';
import { buildStandInHelper } from './fixtures/guest/stand-in.js';

const list = async (gz: Buffer): Promise<string[]> =>
  (await execa('cpio', ['-it', '--quiet'], { input: gunzipSync(gz) })).stdout.split('\n');

t.test('static ELF detection', async (t) => {
  t.ok(isStaticElf(readFileSync(await buildStandInHelper())));
  t.notOk(isStaticElf(readFileSync(process.execPath)), 'node is dynamically linked');
  t.notOk(isStaticElf(Buffer.from('#!/bin/sh\n')));
});

t.test('the base image: busybox, applets, helper and agent; cached by content', async (t) => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'faultline-cache-'));
  const helperPath = await buildStandInHelper();
  const first = await buildBaseImage({ helperPath, cacheDir });
  t.equal(first.cached, false);
  t.equal(first.path, join(cacheDir, 'images', `base-${first.hash}.cpio.gz`));
  const members = await list(readFileSync(first.path));
  for (const name of ['init', 'bin/busybox', 'faultline/helper', 'dev/console', 'proc', 'sys', 'tmp', ...BUSYBOX_APPLETS.map((a) => `bin/${a}`)]) {
    t.ok(members.includes(name), name);
  }
  const second = await buildBaseImage({ helperPath, cacheDir });
  t.same(second, { ...first, cached: true });
  t.match(readFileSync(guestAgentPath(), 'utf8'), /faultline: agent ready/);
});

t.test('a dynamic helper is refused with the fix', async (t) => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'faultline-cache-'));
  await t.rejects(buildBaseImage({ helperPath: process.execPath, cacheDir }), {
    kind: 'image',
    message: `the helper at ${process.execPath} is not a static x86-64 ELF executable`,
    hint: 'link the helper with gcc -static',
  });
  await t.rejects(buildBaseImage({ helperPath: join(cacheDir, 'missing'), cacheDir }), FaultlineError);
});

t.test('the plan segment holds only /faultline/plan', async (t) => {
  const plan = planArchive('plan 1\nsuite s\n');
  t.same(await list(plan), ['faultline', 'faultline/plan']);
  t.same(planArchive('plan 1\nsuite s\n'), plan);
});
