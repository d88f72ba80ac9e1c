/** How the accelerator is chosen: prove KVM with a probe boot (auto), or force one. */
export type AccelMode = 'auto' | 'kvm' | 'tcg';

/** The QEMU machine a guest boots on: microvm boots about 0.3-0.5 s faster than pc under TCG. */
export type Machine = 'microvm' | 'pc';

/** `--machine`: auto lets each guest take microvm where it is reliable (argv.ts guestMachine). */
export type MachineMode = 'auto' | Machine;

// What a guest is, the same for every guest of a run: built once from the command line
// (commands/run.ts) and taken whole by every stage that starts one, so a new guest setting is
// one field here and one use where QEMU's arguments are made.
export interface GuestConfig {
  /** How the accelerator is chosen: `auto` proves KVM with a probe boot, else TCG. */
  accel: AccelMode;
  /** Under TCG every guest time limit is multiplied by this (boot, each case, the helper's waits). */
  tcgSlowdown: number;
  /** Extra guest kernel command-line words, after faultline's own so they can override them. */
  append: readonly string[];
  /** auto by default: microvm, except where a guest needs what only pc gives it (argv.ts). */
  machine: MachineMode;
  /** One by default: under TCG a second vCPU slowed boots by about 0.5 s and the cases need none. */
  cpus: number;
  /** Memory besides the huge pages a guest reserves, which come on top. */
  baseMemoryMiB: number;
  /** 6 by default: WARNINGs (4) and notices such as the version banner (5) still reach the
   * console, while the few hundred boot-time info lines that slow a TCG serial port do not. */
  loglevel: number;
  /** The guest's userland as `--image` names it (busybox, docker:DIR, docker:IMAGE, a recipe);
   * a kernel definition's own `image` overrides it for that kernel. */
  image: string;
  /** Cases a guest runs side by side: null chooses from the cases (runner/guest/workers.ts); 1
   * runs them one after another in plan order. */
  workers: number | null;
}

/** What QEMU is told of the guest (the accelerator is chosen per kernel, and passed beside it). */
export type GuestMachine = Pick<GuestConfig, 'machine' | 'cpus' | 'baseMemoryMiB' | 'loglevel' | 'append'>;

export const defaultGuestConfig: GuestConfig = {
  accel: 'auto',
  tcgSlowdown: 4,
  append: [],
  machine: 'auto',
  cpus: 1,
  baseMemoryMiB: 512,
  loglevel: 6,
  image: 'busybox',
  workers: null,
};
