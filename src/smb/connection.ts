/**
 * One TCP connection to an SMB2/3 server: framing, message ids and credits, many requests in
 * flight, async (interim) responses, CANCEL, compounding, and the signing and encryption of every
 * message once the session has keys. Any malformed message from the server fails the connection
 * with a ProtocolError: every pending request is rejected and the socket is closed.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { ConnectionError, ProtocolError } from './errors.js';
import { CreditWindow } from './credits.js';
import { MessageProtector, type SessionSecurity } from './security.js';
import { FrameDecoder, encodeFrame } from './wire/frame.js';
import { Command, HeaderFlag, HEADER_SIZE, commandName, decodeHeader, encodeHeader, splitCompound, type Header } from './wire/header.js';
import { NtStatus, ntStatusName } from './wire/ntstatus.js';
import { encodeEmptyRequest } from './wire/simple.js';
import { TRANSFORM_PROTOCOL_ID } from './wire/transform.js';

export interface RequestSpec {
  command: number;
  body: Buffer;
  treeId?: number;
  /** Overrides the session's id (SESSION_SETUP legs before the session exists). */
  sessionId?: bigint;
  /** The larger of the request and expected response payload, for the credit charge. */
  payloadSize?: number;
  /** Encrypt this request (share-level encryption); session-level encryption applies anyway. */
  encrypt?: boolean;
  /** Milliseconds to wait for the final response; `afterInterim: false` stops the clock on STATUS_PENDING. */
  timeoutMs?: number;
  /** Long-lived requests (CHANGE_NOTIFY) wait without limit once the server said STATUS_PENDING. */
  waitForeverAfterInterim?: boolean;
}

export interface Response {
  header: Header;
  /** The whole message: header, body and padding. */
  message: Buffer;
  /** The request exactly as sent (pre-auth integrity hashes it). */
  request: Buffer;
  encrypted: boolean;
}

export interface Inflight {
  readonly command: number;
  messageId: bigint;
  asyncId: bigint | null;
  readonly response: Promise<Response>;
  /** Resolves when the server said STATUS_PENDING (the request is parked on the server). */
  readonly interim: Promise<void>;
}

interface Pending extends Inflight {
  spec: RequestSpec;
  sent: boolean;
  cancelRequested: boolean;
  requestBytes: Buffer;
  timer: NodeJS.Timeout | null;
  /** The chain this request was sent in (itself alone when not compounded). */
  chain: Pending[];
  /** Answered (resolved or rejected), or held: answered NETWORK_SESSION_EXPIRED, to be sent again. */
  done: boolean;
  expired: Response | null;
  /** The request sent again after re-authentication; cancel() follows it. */
  replacedBy: Pending | null;
  resolve(r: Response): void;
  reject(e: Error): void;
  interimResolve(): void;
}

interface QueuedChain {
  members: Pending[];
  charges: number[];
}

const DEFAULT_TIMEOUT_MS = 30_000;

export class Connection extends EventEmitter {
  readonly credits = new CreditWindow();
  private readonly frames = new FrameDecoder();
  private readonly pending = new Map<bigint, Pending>();
  private readonly queue: QueuedChain[] = [];
  private protector: MessageProtector | null = null;
  private readonly encryptedTrees = new Set<number>();
  private closedWith: Error | null = null;
  /** Largest single message we send or accept (negotiated MaxTransactSize plus headers). */
  maxMessageSize = 0xffffff;
  /**
   * Re-authenticates the session (a Kerberos session whose ticket ended). When set, requests
   * answered STATUS_NETWORK_SESSION_EXPIRED are held, and sent again once it resolves, so that
   * callers never see the expiry (MS-SMB2 3.2.5.1.6; open handles survive re-authentication).
   */
  reauthenticator: (() => Promise<void>) | null = null;
  private reauthenticating: Promise<void> | null = null;

  /**
   * Run a re-authentication now (a renewal before the ticket ends), unless one is already running
   * (then null, nothing done). Requests that expire meanwhile wait for it, as for one started by
   * an expiry; its failure is not theirs: sent again, they expire again and get one of their own.
   */
  renewSession<T>(task: () => Promise<T>): Promise<T | null> {
    if (this.reauthenticating) return Promise.resolve(null);
    const run = task();
    this.reauthenticating = run.then(
      () => undefined,
      () => undefined,
    ).finally(() => {
      this.reauthenticating = null;
    });
    return run;
  }

  constructor(private readonly socket: Duplex, readonly defaultTimeoutMs = DEFAULT_TIMEOUT_MS) {
    super();
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => this.fail(new ConnectionError(`connection error: ${err.message}`, err.code)));
    socket.on('close', () => this.fail(new ConnectionError('connection closed by the server', 'ECONNRESET')));
  }

  static open(host: string, port: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ConnectionError(`cannot connect to ${host}:${port}: timed out after ${timeoutMs} ms`, 'ETIMEDOUT'));
      }, timeoutMs);
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new ConnectionError(`cannot connect to ${host}:${port}: ${err.message}`, err.code));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        socket.setNoDelay(true);
        socket.setKeepAlive(true, 30_000);
        resolve(new Connection(socket, timeoutMs));
      });
    });
  }

  get closed(): boolean {
    return this.closedWith !== null;
  }

  /** Install the session's keys; from now on messages are signed and/or encrypted. */
  setSecurity(security: SessionSecurity): void {
    this.protector = new MessageProtector(security);
  }

  get security(): SessionSecurity | null {
    return this.protector?.security ?? null;
  }

  markTreeEncrypted(treeId: number): void {
    this.encryptedTrees.add(treeId);
  }

  /** Send one request. */
  send(spec: RequestSpec): Inflight {
    return this.submit([spec])[0]!;
  }

  /**
   * Send requests as one compound chain (MS-SMB2 3.2.4.1.4): the second and later are related
   * operations that use the FileId of the first CREATE (callers pass RELATED_FILE_ID).
   */
  submit(specs: RequestSpec[]): Inflight[] {
    const members = specs.map((spec) => this.makePending(spec));
    for (const m of members) m.chain = members;
    if (this.closedWith) {
      for (const m of members) m.reject(this.closedWith);
      return members;
    }
    const charges = specs.map((s) => this.credits.chargeFor(s.payloadSize ?? 0));
    this.queue.push({ members, charges });
    this.drain();
    return members;
  }

  /**
   * Cancel a request (MS-SMB2 3.2.4.24): same MessageId, no credit, async form once the interim
   * response gave an AsyncId; sent at most once. The request then completes with STATUS_CANCELLED
   * (or with its result if it finished first).
   */
  cancel(inflight: Inflight): void {
    let p = inflight as Pending;
    while (p.replacedBy) p = p.replacedBy;
    if (p.cancelRequested || this.closedWith) return;
    p.cancelRequested = true;
    // A request still waiting for credits is cancelled as soon as it has been sent.
    if (p.sent && this.pending.get(p.messageId) === p) this.sendCancel(p);
  }

  private sendCancel(p: Pending): void {
    const isAsync = p.asyncId !== null;
    const header = encodeHeader({
      command: Command.CANCEL,
      messageId: p.messageId,
      flags: isAsync ? HeaderFlag.ASYNC_COMMAND : 0,
      asyncId: p.asyncId ?? 0n,
      treeId: p.spec.treeId ?? 0,
      sessionId: this.security?.sessionId ?? 0n,
    });
    const message = Buffer.concat([header, encodeEmptyRequest()]);
    const encrypt = this.wantsEncryption(p.spec);
    if (!encrypt && this.security?.signing) this.protector!.sign(message);
    this.transmit(message, encrypt);
  }

  /** Close the socket; every pending request is rejected. */
  close(): void {
    this.fail(new ConnectionError('connection closed', 'ECONNABORTED'));
  }

  /** Fail the connection with `err` (a protocol violation found by a higher layer); returns it to throw. */
  abort<E extends Error>(err: E): E {
    this.fail(err);
    return err;
  }

  /** Run a decoder on a server message; a ProtocolError from it also fails the connection. */
  decode<T>(decoder: () => T): T {
    try {
      return decoder();
    } catch (err) {
      if (err instanceof ProtocolError) this.fail(err);
      throw err;
    }
  }

  private makePending(spec: RequestSpec): Pending {
    let resolve!: (r: Response) => void;
    let reject!: (e: Error) => void;
    let interimResolve!: () => void;
    const response = new Promise<Response>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const interim = new Promise<void>((res) => {
      interimResolve = res;
    });
    // The caller owns the response; this keeps a request nobody waits on (a fire-and-forget
    // CLOSE on shutdown, say) from becoming an unhandled rejection.
    response.catch(() => undefined);
    const p: Pending = {
      command: spec.command, messageId: -1n, asyncId: null, response, interim, spec,
      sent: false, cancelRequested: false, requestBytes: Buffer.alloc(0), timer: null,
      chain: [], done: false, expired: null, replacedBy: null,
      resolve: (r) => {
        p.done = true;
        resolve(r);
      },
      reject: (e) => {
        p.done = true;
        reject(e);
      },
      interimResolve,
    };
    return p;
  }

  /**
   * A SESSION_SETUP on the session that already has keys: a re-authentication, which is signed
   * (and encrypted on an encrypted session) like any other request; Samba refuses an unsigned one
   * with ACCESS_DENIED (MS-SMB2 3.3.5.2.4 verifies it with the session's key).
   */
  private isReauthentication(spec: RequestSpec): boolean {
    const security = this.security;
    return spec.command === Command.SESSION_SETUP && security !== null && security.sessionId !== 0n && spec.sessionId === security.sessionId;
  }

  private wantsEncryption(spec: RequestSpec): boolean {
    const security = this.security;
    if (!security?.cipher) return false;
    if (spec.command === Command.NEGOTIATE) return false;
    if (spec.command === Command.SESSION_SETUP && !this.isReauthentication(spec)) return false;
    return security.encryptAll || spec.encrypt === true || (spec.treeId !== undefined && this.encryptedTrees.has(spec.treeId));
  }

  private drain(): void {
    while (this.queue.length && !this.closedWith) {
      const chain = this.queue[0]!;
      const total = chain.charges.reduce((a, b) => a + b, 0);
      if (!this.credits.canSend(total)) return;
      this.queue.shift();
      this.sendChain(chain);
    }
  }

  private sendChain({ members, charges }: QueuedChain): void {
    const security = this.security;
    const encrypt = members.some((m) => this.wantsEncryption(m.spec));
    const parts: Buffer[] = [];
    members.forEach((m, i) => {
      const charge = charges[i]!;
      m.messageId = this.credits.take(charge);
      const last = i === members.length - 1;
      const body = m.spec.body;
      const unpadded = HEADER_SIZE + body.length;
      const padded = last ? unpadded : Math.ceil(unpadded / 8) * 8;
      const header = encodeHeader({
        command: m.spec.command,
        messageId: m.messageId,
        creditCharge: this.credits.chargeField(charge),
        credits: this.credits.requestFor(charge),
        flags: i > 0 ? HeaderFlag.RELATED_OPERATIONS : 0,
        nextCommand: last ? 0 : padded,
        treeId: m.spec.treeId ?? 0,
        sessionId: m.spec.sessionId ?? security?.sessionId ?? 0n,
      });
      const message = Buffer.alloc(padded);
      header.copy(message, 0);
      body.copy(message, HEADER_SIZE);
      // MS-SMB2 3.2.4.1.1: sign each member of the chain on its own, padding included; an
      // encrypted message is protected by its transform instead (3.2.4.1.8).
      const signable = m.spec.command === Command.SESSION_SETUP ? this.isReauthentication(m.spec) : m.spec.command !== Command.NEGOTIATE;
      if (!encrypt && signable && security?.signing) this.protector!.sign(message);
      m.requestBytes = message;
      m.sent = true;
      this.pending.set(m.messageId, m);
      this.armTimer(m, m.spec.timeoutMs ?? this.defaultTimeoutMs);
      parts.push(message);
    });
    this.transmit(Buffer.concat(parts), encrypt);
    for (const m of members) if (m.cancelRequested) this.sendCancel(m);
  }

  private transmit(chain: Buffer, encrypt: boolean): void {
    try {
      const payload = encrypt ? this.protector!.encrypt(chain) : chain;
      this.socket.write(encodeFrame(payload));
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private armTimer(p: Pending, ms: number): void {
    if (p.timer) clearTimeout(p.timer);
    p.timer = setTimeout(() => {
      this.fail(new ConnectionError(`no ${commandName(p.command)} response from the server within ${ms} ms`, 'ETIMEDOUT'));
    }, ms);
  }

  /** The receive path: bytes from the socket, possibly garbage. Public for the fuzz tests. */
  receive(chunk: Buffer): void {
    if (this.closedWith) return;
    try {
      for (const frame of this.frames.push(chunk)) {
        if (this.closedWith) return;
        this.receiveFrame(frame);
      }
      if (this.frames.error) throw this.frames.error;
      this.drain();
    } catch (err) {
      this.fail(err instanceof ProtocolError ? err : new ProtocolError(`malformed message from the server: ${(err as Error).message}`));
    }
  }

  private receiveFrame(frame: Buffer): void {
    if (frame.length > this.maxMessageSize + 1024) throw new ProtocolError(`message of ${frame.length} bytes exceeds the negotiated size`);
    if (frame.length < 4) throw new ProtocolError('message shorter than its protocol id');
    const encrypted = frame.readUInt32LE(0) === TRANSFORM_PROTOCOL_ID;
    if (encrypted && !this.protector) throw new ProtocolError('server sent an encrypted message before the session had keys');
    const chain = encrypted ? this.protector!.decrypt(frame) : frame;
    for (const message of splitCompound(chain)) this.receiveMessage(message, encrypted);
  }

  private receiveMessage(message: Buffer, encrypted: boolean): void {
    const header = decodeHeader(message);
    if (!(header.flags & HeaderFlag.SERVER_TO_REDIR)) throw new ProtocolError('server sent a request, not a response');
    const isInterim = header.status === NtStatus.PENDING && (header.flags & HeaderFlag.ASYNC_COMMAND) !== 0;
    const expired = this.isExpiredAnswer(header);
    if (!expired) this.checkProtection(header, message, encrypted, isInterim);
    if (header.command === Command.OPLOCK_BREAK && header.messageId === 0xffffffffffffffffn) return; // we never ask for oplocks or leases
    const p = this.pending.get(header.messageId);
    if (!p) throw new ProtocolError(`response to unknown message id ${header.messageId}`);
    if (header.command !== p.command) throw new ProtocolError(`${commandName(header.command)} response to a ${commandName(p.command)} request`);
    this.credits.grant(header.credits);
    if (isInterim) {
      p.asyncId = header.asyncId;
      if (p.spec.waitForeverAfterInterim && p.timer) {
        clearTimeout(p.timer);
        p.timer = null;
      }
      p.interimResolve();
      return;
    }
    if (p.timer) clearTimeout(p.timer);
    this.pending.delete(header.messageId);
    const response = { header, message, request: p.requestBytes, encrypted };
    if (expired) {
      p.expired = response;
    } else {
      p.resolve(response);
    }
    this.settleChain(p.chain);
  }

  /**
   * An answer that only says the session expired, to be held for re-authentication: a
   * STATUS_NETWORK_SESSION_EXPIRED, or any answer to a later member of a compound whose earlier
   * member expired (Samba then fails the related requests with INVALID_PARAMETER). Samba's
   * signatures on these do not verify (the Linux client only logs bad signatures); they are taken
   * unverified, which is safe: all a forged one can cause is an authenticated re-authentication and
   * the same requests again, whose answers are verified as usual.
   */
  private isExpiredAnswer(header: Header): boolean {
    if (!this.reauthenticator || header.command === Command.SESSION_SETUP) return false;
    if (header.status === NtStatus.PENDING) return false;
    if (header.status === NtStatus.NETWORK_SESSION_EXPIRED) return true;
    const p = this.pending.get(header.messageId);
    return p !== undefined && p.chain.some((m) => m !== p && m.expired !== null);
  }

  /**
   * Once every member of a chain is answered: when all of them were NETWORK_SESSION_EXPIRED, send
   * the chain again after re-authenticating (one re-authentication for all requests that expired
   * together); when only some were, hand them their EXPIRED answer (a half-done compound cannot be
   * replayed).
   */
  private settleChain(chain: Pending[]): void {
    if (!chain.every((m) => m.done || m.expired)) return;
    const held = chain.filter((m) => m.expired && !m.done);
    if (held.length === 0) return;
    if (held.length !== chain.length) {
      for (const m of held) m.resolve(m.expired!);
      return;
    }
    this.reauthenticating ??= this.reauthenticator!().finally(() => {
      this.reauthenticating = null;
    });
    this.reauthenticating.then(
      () => {
        const again = this.submit(chain.map((m) => m.spec)) as Pending[];
        again.forEach((a, i) => {
          const m = chain[i]!;
          m.replacedBy = a;
          if (m.cancelRequested) this.cancel(a);
          void a.interim.then(() => {
            m.asyncId = a.asyncId;
            m.interimResolve();
          });
          a.response.then(m.resolve, m.reject);
        });
      },
      (err: Error) => {
        for (const m of chain) m.reject(err);
      },
    );
  }

  /** MS-SMB2 3.2.5.1.3: verify signatures; refuse unprotected messages where protection is due. */
  private checkProtection(header: Header, message: Buffer, encrypted: boolean, isInterim: boolean): void {
    const security = this.security;
    // No exemption for a SessionId that is not ours: this connection has one session, and a
    // response naming another one (or none) would otherwise skip every check below, so that a
    // changed SessionId let a forged message through unsigned, or in clear on an encrypted session.
    if (!security || encrypted) return;
    const mustEncrypt = security.encryptAll || this.encryptedTrees.has(header.treeId);
    if (mustEncrypt && !isInterim && header.command !== Command.SESSION_SETUP) {
      throw new ProtocolError(`unencrypted ${commandName(header.command)} response on an encrypted session`);
    }
    if (!security.signing) return;
    if (header.flags & HeaderFlag.SIGNED) {
      if (!this.protector!.verify(message)) throw new ProtocolError(`bad signature on ${commandName(header.command)} response (${ntStatusName(header.status)})`);
    } else if (!isInterim && header.command !== Command.SESSION_SETUP) {
      throw new ProtocolError(`unsigned ${commandName(header.command)} response on a signed session`);
    }
  }

  private fail(err: Error): void {
    if (this.closedWith) return;
    this.closedWith = err;
    for (const p of this.pending.values()) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
    for (const chain of this.queue.splice(0)) for (const m of chain.members) m.reject(err);
    // Requests held for a re-authentication are rejected by it: the reauthenticator fails too.
    this.socket.destroy();
    this.emit('closed', err);
  }
}
