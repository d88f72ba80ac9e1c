// Named one-shot timers that can be re-armed and are all cleared together when a guest ends.
export class Timers<Name extends string> {
  private readonly active = new Map<Name, NodeJS.Timeout>();

  set(name: Name, ms: number, fire: () => void): void {
    this.clear(name);
    this.active.set(
      name,
      setTimeout(() => {
        this.active.delete(name);
        fire();
      }, ms),
    );
  }

  clear(name: Name): void {
    clearTimeout(this.active.get(name));
    this.active.delete(name);
  }

  clearAll(): void {
    for (const timer of this.active.values()) clearTimeout(timer);
    this.active.clear();
  }
}
