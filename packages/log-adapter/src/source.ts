// One source of lines — a log file (from its first byte, or from where a rotation started a new
// one) or one program sending to the syslog listener — and the format its lines are read in.
// With ADAPTER_FORMAT=auto the first line that one of the stock formats reads names the source's
// format; that format is tried first on every later line, and a line it does not read is offered
// to the other stock formats (a line is read by one of them only), else counted unparsed. A
// rotation starts a new source, detected again.
import type { Formats, LineRecord, Parser } from './formats/index.ts';
import { NOT_A_REQUEST } from './formats/index.ts';
import type { LineSink } from './line-splitter.ts';

/** Where a source's results go: the pipeline. */
export interface RecordSink {
  request(r: LineRecord): void;
  /** A line of the format that is not a request (counted as ignored). */
  notRequest(): void;
  unparsed(buf: Buffer, start: number, end: number, source: Source): void;
  tooLong(): void;
  /** The source's format is now known (auto only). */
  detected(source: Source, format: string): void;
}

export const UNKNOWN_FORMAT = 'unknown';

export class Source implements LineSink {
  /** The file's path, or `syslog:<program>`. */
  readonly name: string;
  readonly #formats: Formats;
  readonly #sink: RecordSink;
  #preferred: Parser | null;
  #format: string | null;

  constructor(name: string, formats: Formats, sink: RecordSink) {
    this.name = name;
    this.#formats = formats;
    this.#sink = sink;
    this.#preferred = formats.auto ? null : formats.parsers[0]!;
    this.#format = formats.auto ? null : this.#preferred!.name;
  }

  /** The format's name; `unknown` until a line of a stock format is read (auto). */
  get format(): string {
    return this.#format ?? UNKNOWN_FORMAT;
  }

  get auto(): boolean {
    return this.#formats.auto;
  }

  line(buf: Buffer, start: number, end: number): void {
    const preferred = this.#preferred;
    if (preferred !== null) {
      const r = preferred.parse(buf, start, end);
      if (r !== null) {
        if (r === NOT_A_REQUEST) this.#sink.notRequest();
        else this.#sink.request(r);
        return;
      }
      if (!this.#formats.auto) {
        this.#sink.unparsed(buf, start, end, this);
        return;
      }
    }
    for (const p of this.#formats.parsers) {
      if (p === preferred) continue;
      const r = p.parse(buf, start, end);
      if (r === null) continue;
      if (this.#format === null) {
        this.#preferred = p;
        this.#format = p.name;
        this.#sink.detected(this, p.name);
      }
      if (r === NOT_A_REQUEST) this.#sink.notRequest();
      else this.#sink.request(r);
      return;
    }
    this.#sink.unparsed(buf, start, end, this);
  }

  tooLong(): void {
    this.#sink.tooLong();
  }
}
