// Bytes in, whole lines out. Holds a partial last line until its newline arrives; a line longer
// than maxLine is dropped as it streams past (memory stays bounded) and reported once, at its end.

export interface LineSink {
  /** One line: text.slice(start, end), passed as offsets so no substring is made unless needed. */
  line(text: string, start: number, end: number): void;
  tooLong(): void;
}

export class LineSplitter {
  readonly #max: number;
  readonly #carry: Buffer;
  #carryLen = 0;
  #skipping = false;
  #skipped = 0;

  constructor(maxLine: number) {
    this.#max = maxLine;
    this.#carry = Buffer.allocUnsafe(maxLine);
  }

  /** Bytes received since the last newline (a partial line, or the part of a long one skipped so far). */
  get pending(): number {
    return this.#skipping ? this.#skipped : this.#carryLen;
  }

  /** True while the bytes of an over-long line are being skipped. */
  get skipping(): boolean {
    return this.#skipping;
  }

  /** Splits buf[0, len) into lines for the sink; keeps what follows the last newline. */
  push(buf: Buffer, len: number, sink: LineSink): void {
    if (len <= 0) return;
    let start = 0;
    if (this.#skipping || this.#carryLen > 0) {
      const nl = buf.indexOf(10);
      if (nl === -1 || nl >= len) {
        if (this.#skipping) this.#skipped += len;
        else this.#hold(buf, 0, len);
        return;
      }
      if (this.#skipping) {
        this.#skipping = false;
        sink.tooLong();
      } else if (this.#carryLen + nl > this.#max) {
        this.#carryLen = 0;
        sink.tooLong();
      } else {
        buf.copy(this.#carry, this.#carryLen, 0, nl);
        const text = this.#carry.toString('utf8', 0, trimCR(this.#carry, this.#carryLen + nl));
        this.#carryLen = 0;
        sink.line(text, 0, text.length);
      }
      start = nl + 1;
    }
    const last = buf.lastIndexOf(10, len - 1);
    if (last >= start) {
      const text = buf.toString('utf8', start, last);
      const max = this.#max;
      let from = 0;
      for (;;) {
        const nl = text.indexOf('\n', from);
        const end = nl === -1 ? text.length : nl;
        const cut = end > from && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
        if (cut - from > max) sink.tooLong();
        else sink.line(text, from, cut);
        if (nl === -1) break;
        from = nl + 1;
      }
      start = last + 1;
    }
    if (start < len) this.#hold(buf, start, len);
  }

  /** Forgets any partial line (the file was truncated or replaced). */
  reset(): void {
    this.#carryLen = 0;
    this.#skipping = false;
    this.#skipped = 0;
  }

  #hold(buf: Buffer, from: number, to: number): void {
    const n = to - from;
    if (this.#carryLen + n > this.#max) {
      this.#skipped = this.#carryLen + n;
      this.#carryLen = 0;
      this.#skipping = true;
      return;
    }
    buf.copy(this.#carry, this.#carryLen, from, to);
    this.#carryLen += n;
  }
}

function trimCR(buf: Buffer, len: number): number {
  return len > 0 && buf[len - 1] === 13 ? len - 1 : len;
}
