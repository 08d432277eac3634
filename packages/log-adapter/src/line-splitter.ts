// Bytes in, whole lines out, as offsets into the read buffer (no string is made for a line unless
// a parser needs one). Holds a partial last line until its newline arrives; a line longer than
// maxLine bytes is dropped as it streams past (memory stays bounded) and reported once, at its end.

export interface LineSink {
  /** One line: buf[start, end), without its newline (or \r\n). Valid only during the call. */
  line(buf: Buffer, start: number, end: number): void;
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
        this.#skipped = 0;
        sink.tooLong();
      } else if (this.#carryLen + nl > this.#max) {
        this.#carryLen = 0;
        sink.tooLong();
      } else {
        buf.copy(this.#carry, this.#carryLen, 0, nl);
        const n = this.#carryLen + nl;
        this.#carryLen = 0;
        sink.line(this.#carry, 0, n > 0 && this.#carry[n - 1] === 13 ? n - 1 : n);
      }
      start = nl + 1;
    }
    const last = buf.lastIndexOf(10, len - 1);
    if (last >= start) {
      const max = this.#max;
      let from = start;
      while (from <= last) {
        // There is a newline at `last`, so this search always stops there at the latest.
        const nl = buf.indexOf(10, from);
        const cut = nl > from && buf[nl - 1] === 13 ? nl - 1 : nl;
        if (cut - from > max) sink.tooLong();
        else sink.line(buf, from, cut);
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
