// The last lines each container wrote, for the pod view's "logs" panel (`kubectl logs -c <name>`).

export class LogBuffer {
  private readonly lines = new Map<string, string[]>();
  private readonly limit: number;

  constructor(limit = 200) {
    this.limit = limit;
  }

  add(name: string, line: string): void {
    let list = this.lines.get(name);
    if (!list) {
      list = [];
      this.lines.set(name, list);
    }
    list.push(line.length > 2000 ? `${line.slice(0, 2000)}…` : line);
    if (list.length > this.limit) list.splice(0, list.length - this.limit);
  }

  /** The last `tail` lines of one container, oldest first. */
  get(name: string, tail = this.limit): string[] {
    return (this.lines.get(name) ?? []).slice(-tail);
  }
}
