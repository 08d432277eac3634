// Syslog framing: where the message of one datagram starts, and which program sent it.
// RFC 5424: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG]` (MSG may start
// with a UTF-8 byte-order mark). RFC 3164 as nginx and HAProxy send it:
// `<PRI>Mmm dd hh:mm:ss [HOSTNAME ]TAG[pid]: MSG` (nginx: `… host nginx: …`; HAProxy, without
// log-send-hostname: `… haproxy[123]: …`). A datagram without `<PRI>` is all message (HAProxy's
// `format raw`). Offsets, no copies: the message is handed on as bytes of the datagram.

export interface SyslogMessage {
  /** APP-NAME (5424) or the TAG without its [pid] (3164); "-" when there is none. */
  app: string;
  start: number;
  end: number;
}

const SP = 32;

export function parseSyslog(buf: Buffer, length = buf.length): SyslogMessage {
  let end = length;
  // Trailing newline, carriage return or NUL (some senders terminate datagrams).
  while (end > 0 && (buf[end - 1] === 10 || buf[end - 1] === 13 || buf[end - 1] === 0)) end--;
  const raw = { app: '-', start: 0, end };
  if (buf[0] !== 60 /* < */) return raw;
  let p = 1;
  while (p < end && p <= 4 && isDigit(buf[p]!)) p++;
  if (p === 1 || p > 4 || buf[p] !== 62 /* > */) return raw;
  p++;
  if (buf[p] === 49 /* 1 */ && buf[p + 1] === SP) return rfc5424(buf, p + 2, end) ?? raw;
  return rfc3164(buf, p, end);
}

function rfc5424(buf: Buffer, p: number, end: number): SyslogMessage | null {
  const tokens: [number, number][] = [];
  // TIMESTAMP HOSTNAME APP-NAME PROCID MSGID
  for (let i = 0; i < 5; i++) {
    const q = indexOf(buf, SP, p, end);
    if (q === -1 || q === p) return null;
    tokens.push([p, q]);
    p = q + 1;
  }
  // STRUCTURED-DATA: "-" or one or more [id param="value" …], values escaping \" \\ \]
  if (buf[p] === 45 /* - */) p++;
  else {
    if (buf[p] !== 91 /* [ */) return null;
    while (buf[p] === 91) {
      p++;
      let quoted = false;
      for (; p < end; p++) {
        const c = buf[p];
        if (quoted && c === 92 /* \ */) p++;
        else if (c === 34 /* " */) quoted = !quoted;
        else if (!quoted && c === 93 /* ] */) break;
      }
      if (p >= end) return null;
      p++;
    }
  }
  if (p < end && buf[p] !== SP) return null;
  if (p < end) p++;
  // MSG may begin with a BOM (EF BB BF).
  if (buf[p] === 0xef && buf[p + 1] === 0xbb && buf[p + 2] === 0xbf) p += 3;
  const [a, b] = tokens[2]!;
  return { app: buf.toString('latin1', a, b), start: Math.min(p, end), end };
}

const MONTHS = new Set(['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']);

function rfc3164(buf: Buffer, p: number, end: number): SyslogMessage {
  // TIMESTAMP: "Mmm dd hh:mm:ss " (day padded with a space), or an RFC 3339 one (rsyslog's).
  if (
    end - p >= 16 &&
    MONTHS.has(buf.toString('latin1', p, p + 3)) &&
    buf[p + 3] === SP &&
    buf[p + 6] === SP &&
    buf[p + 9] === 58 &&
    buf[p + 12] === 58 &&
    buf[p + 15] === SP
  )
    p += 16;
  else if (end - p >= 11 && isDigit(buf[p]!) && buf[p + 4] === 45 /* - */ && buf[p + 10] === 84 /* T */) {
    const q = indexOf(buf, SP, p, end);
    if (q !== -1) p = q + 1;
  }
  const afterTimestamp = p;
  // [HOSTNAME ]TAG: — the tag is the first of the next two words that ends with ":".
  for (let word = 0; word < 2; word++) {
    const q = indexOf(buf, SP, p, end);
    const e = q === -1 ? end : q;
    if (e > p && buf[e - 1] === 58 /* : */) {
      const tag = tagName(buf, p, e - 1);
      if (tag !== null) return { app: tag, start: q === -1 ? end : q + 1, end };
    }
    if (q === -1) break;
    p = q + 1;
  }
  return { app: '-', start: afterTimestamp, end };
}

/** `name` or `name[pid]`, as sent before the colon; null when it is not a tag. */
function tagName(buf: Buffer, p: number, e: number): string | null {
  let nameEnd = e;
  if (buf[e - 1] === 93 /* ] */) {
    const open = buf.lastIndexOf(91 /* [ */, e - 1);
    if (open <= p || open >= e) return null;
    for (let i = open + 1; i < e - 1; i++) if (!isDigit(buf[i]!)) return null;
    nameEnd = open;
  }
  if (nameEnd === p || nameEnd - p > 48) return null;
  for (let i = p; i < nameEnd; i++) {
    const c = buf[i]!;
    // Letters, digits and - _ . / (RFC 3164's tag is alphanumeric; real senders use more).
    if (
      !(
        isDigit(c) ||
        (c >= 65 && c <= 90) ||
        (c >= 97 && c <= 122) ||
        c === 45 ||
        c === 95 ||
        c === 46 ||
        c === 47
      )
    )
      return null;
  }
  return buf.toString('latin1', p, nameEnd);
}

function indexOf(buf: Buffer, ch: number, p: number, end: number): number {
  for (; p < end; p++) if (buf[p] === ch) return p;
  return -1;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
