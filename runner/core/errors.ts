// One error type for the whole tool: `kind` says which stage failed and fixes the exit code,
// so `main` never has to guess how to fold a failure.
export type ErrorKind =
  | 'usage' // bad command line
  | 'suite' // a suite file that does not load or validate
  | 'kernel' // a kernel spec that does not resolve to a bootable kernel
  | 'build' // compiling the helper or a kernel failed
  | 'image' // the guest image could not be assembled
  | 'engine' // the Docker engine did not answer, or a container of faultline's failed
  | 'boot' // QEMU or the guest failed before results came back
  | 'tool' // a required host program is missing
  | 'io'; // the results directory or cache cannot be written

const exitCodes: Record<ErrorKind, number> = {
  usage: 2,
  suite: 2,
  kernel: 3,
  build: 3,
  image: 3,
  engine: 3,
  boot: 3,
  tool: 3,
  io: 3,
};

export interface FaultlineErrorOptions {
  /** Where the problem is: a file, file:line:column, or a kernel spec. */
  where?: string;
  /** What the user can do about it. */
  hint?: string;
  cause?: unknown;
}

export class FaultlineError extends Error {
  override readonly name = 'FaultlineError';
  readonly kind: ErrorKind;
  readonly where: string | undefined;
  readonly hint: string | undefined;

  constructor(kind: ErrorKind, message: string, options: FaultlineErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.where = options.where;
    this.hint = options.hint;
  }

  get exitCode(): number {
    return exitCodes[this.kind];
  }

  /** The one paragraph a person sees: where, what, and the fix. */
  describe(): string {
    const head = this.where && !this.message.includes(this.where) ? `${this.where}: ${this.message}` : this.message;
    return this.hint ? `${head}\n  ${this.hint}` : head;
  }
}

export const isFaultlineError = (e: unknown): e is FaultlineError => e instanceof FaultlineError;
