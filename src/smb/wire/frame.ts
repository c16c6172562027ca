/**
 * Direct TCP transport framing (MS-SMB2 2.1): each message is preceded by a zero byte and a
 * 24-bit big-endian length. `FrameDecoder` reassembles frames from arbitrary TCP chunks without
 * I/O of its own, so the receive path can be fuzzed.
 */
import { ProtocolError } from '../errors.js';

/** The largest frame we accept: the 24-bit length allows 16 MiB - 1. */
export const MAX_FRAME = 0xffffff;

export function encodeFrame(payload: Buffer): Buffer {
  if (payload.length > MAX_FRAME) throw new RangeError(`message of ${payload.length} bytes exceeds the 24-bit frame length`);
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(payload.length, 0);
  return Buffer.concat([prefix, payload]);
}

export class FrameDecoder {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /**
   * Set when the stream broke. Frames cut before the break are still returned by `push`, so the
   * outcome does not depend on how TCP split the bytes; the caller handles them, then fails.
   */
  error: ProtocolError | null = null;
  /** Whether a whole frame came already: a bad first byte before that is likely not SMB at all. */
  private framed = false;

  /** Feed received bytes; returns every complete frame payload before any break. */
  push(chunk: Buffer): Buffer[] {
    if (this.error) return [];
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const frames: Buffer[] = [];
    while (this.pendingBytes >= 4) {
      const head = this.peek(4);
      const length = head.readUInt32BE(0);
      // An HTTP, SSH or TLS service answers with text or a record type of its own: say so.
      if (head[0] !== 0) this.error = new ProtocolError(`bad transport header byte 0x${head[0]!.toString(16)}${this.framed ? '' : ' (not an SMB server?)'}`);
      else if (length < 4) this.error = new ProtocolError(`transport frame of ${length} bytes is too short`);
      if (this.error) break;
      if (this.pendingBytes < 4 + length) break;
      const all = this.take(4 + length);
      this.framed = true;
      frames.push(all.subarray(4));
    }
    return frames;
  }

  private peek(n: number): Buffer {
    if (this.pending[0]!.length < n) this.pending = [Buffer.concat(this.pending)];
    return this.pending[0]!.subarray(0, n);
  }

  private take(n: number): Buffer {
    const joined = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    const out = joined.subarray(0, n);
    const rest = joined.subarray(n);
    this.pending = rest.length ? [rest] : [];
    this.pendingBytes = rest.length;
    return out;
  }
}
