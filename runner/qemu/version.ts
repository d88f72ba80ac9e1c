import { execa } from 'execa';
import { rememberedAnswer } from '../core/tool-identity.js';
import { requireTool } from '../core/tools.js';

const versions = new Map<string, Promise<string | null>>();

// The accelerator's cache key and run.json's host facts both name the QEMU: asked once per
// binary and process, and remembered in the cache until the binary changes. Naming it never
// fails a run; a QEMU that cannot answer fails its boot.
export async function qemuVersion(qemu?: string): Promise<string | null> {
  const binary = qemu ?? (await requireTool('qemu-system-x86_64', 'qemu-system-x86').catch(() => null));
  if (binary === null) return null;
  let version = versions.get(binary);
  if (!version) {
    const ask = () => execa(binary, ['--version'], { reject: false, stdin: 'ignore' }).then((r) => (r.exitCode === 0 ? (r.stdout.split('\n')[0] ?? null) : null));
    version = rememberedAnswer(binary, 'qemu --version', ask);
    versions.set(binary, version);
  }
  return version;
}
