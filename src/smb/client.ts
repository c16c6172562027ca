/**
 * The SMB2/3 client: one connection, one authenticated session, any number of trees.
 * `SmbClient.connect` negotiates, authenticates and applies the protection the user asked for.
 */
import { EventEmitter } from 'node:events';
import { SecurityError } from './errors.js';
import { expectSuccess } from './status.js';
import { Connection } from './connection.js';
import { negotiate, type Negotiated } from './negotiate.js';
import { reauthenticate, setupSession, type EstablishedSession } from './session.js';
import { KerberosError } from './auth/gssapi.js';
import { SessionRenewal } from './session-renewal.js';
import { SmbTree } from './tree.js';
import { Command } from './wire/header.js';
import { GlobalCapability } from './wire/negotiate.js';
import { decodeEmptyResponse, encodeEmptyRequest } from './wire/simple.js';
import { ShareCapability, ShareFlag, ShareType, decodeTreeConnectResponse, encodeTreeConnectRequest, flagNames } from './wire/tree.js';
import { filetimeToDate } from './wire/filetime.js';
import type { ConnectOptions, KerberosCredentials, SessionInfo } from './types.js';
import { validateNegotiate } from './validate-negotiate.js';

/** Delays between re-authentication attempts while no fresh Kerberos ticket is available. */
const REAUTH_RETRY_MIN_MS = 1_000;
const REAUTH_RETRY_MAX_MS = 30_000;

/**
 * Events: 'closed' (err) when the connection is gone; 'reauthenticated' (lifetime seconds, when:
 * 'ahead' before the ticket ended, 'expired' after the server said the session expired) after a
 * Kerberos session was renewed; 'reauthFailed' (err, delayMs) when no fresh ticket could be had
 * yet (the requests wait, and the next attempt is in delayMs).
 */
export class SmbClient extends EventEmitter {
  readonly session: SessionInfo;
  private validated = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryWake: (() => void) | null = null;
  private renewal: SessionRenewal | null = null;

  private constructor(
    readonly connection: Connection,
    readonly negotiated: Negotiated,
    readonly established: EstablishedSession,
    readonly host: string,
    readonly port: number,
  ) {
    super();
    const res = negotiated.response;
    this.session = {
      dialect: negotiated.dialectName,
      signing: established.security.signing && !established.security.encryptAll ? established.security.signing.algorithm : null,
      encryption: established.security.encryptAll ? established.security.cipher!.name : null,
      serverGuid: formatGuid(res.serverGuid),
      capabilities: flagNames(res.capabilities, GlobalCapability),
      signingRequired: negotiated.signingRequired,
      maxTransactSize: res.maxTransactSize,
      maxReadSize: res.maxReadSize,
      maxWriteSize: res.maxWriteSize,
      systemTime: res.systemTime ? filetimeToDate(res.systemTime) : null,
      sessionFlags: established.sessionFlagNames,
      authentication: established.mechanism,
    };
    connection.on('closed', (err: Error) => {
      if (this.retryTimer) clearTimeout(this.retryTimer);
      this.renewal?.stop();
      this.retryWake?.();
      this.emit('closed', err);
    });
  }

  /**
   * Kerberos sessions end when the ticket does (STATUS_NETWORK_SESSION_EXPIRED). Before that, the
   * session is re-authenticated as soon as the cache has a fresher ticket (SessionRenewal); if it
   * expires all the same, the connection holds the expired requests while this gets a fresh
   * ticket and re-authenticates the same session, retrying with backoff until a ticket is there
   * (kinit) or the connection closes.
   */
  private enableReauthentication(credentials: KerberosCredentials, lifetime: number): void {
    const renewal = new SessionRenewal(
      (endsAfter) => this.connection.renewSession(() => reauthenticate(this.connection, this.negotiated, credentials, this.host, endsAfter)),
      (renewed) => this.emit('reauthenticated', renewed, 'ahead'),
    );
    this.renewal = renewal;
    renewal.ticket(lifetime);
    this.connection.reauthenticator = async () => {
      for (let attempt = 1; ; attempt++) {
        if (this.connection.closed) throw new KerberosError('expired', 'connection closed while waiting for a fresh Kerberos ticket');
        try {
          const renewed = (await reauthenticate(this.connection, this.negotiated, credentials, this.host))!;
          renewal.ticket(renewed);
          this.emit('reauthenticated', renewed, 'expired');
          return;
        } catch (err) {
          if (!(err instanceof KerberosError) || this.connection.closed) throw err;
          const delay = Math.min(REAUTH_RETRY_MAX_MS, REAUTH_RETRY_MIN_MS * 2 ** (attempt - 1));
          this.emit('reauthFailed', err, delay);
          await new Promise<void>((resolve) => {
            this.retryWake = resolve;
            this.retryTimer = setTimeout(resolve, delay);
          });
        }
      }
    };
  }

  static async connect(opts: ConnectOptions): Promise<SmbClient> {
    const port = opts.port ?? 445;
    const conn = await Connection.open(opts.address ?? opts.host, port, opts.timeoutMs);
    try {
      const neg = await negotiate(conn, {
        minDialect: opts.minDialect ?? '2.0.2',
        maxDialect: opts.maxDialect ?? '3.1.1',
        ...(opts.ciphers ? { ciphers: opts.ciphers } : {}),
        ...(opts.signingAlgorithms ? { signingAlgorithms: opts.signingAlgorithms } : {}),
      });
      const established = await setupSession(
        conn,
        neg,
        { credentials: opts.credentials, host: opts.host, ...(opts.workstation ? { workstation: opts.workstation } : {}) },
        opts.protect ?? 'off',
      );
      const client = new SmbClient(conn, neg, established, opts.host, port);
      if (opts.credentials.kind === 'kerberos' && established.mechanism === 'Kerberos') {
        client.enableReauthentication(opts.credentials, established.ticketLifetime ?? 0);
      }
      return client;
    } catch (err) {
      conn.close();
      throw err;
    }
  }

  get closed(): boolean {
    return this.connection.closed;
  }

  /** Connect to `share` (MS-SMB2 3.2.4.2.4); 3.0 and 3.0.2 sessions validate the negotiate first. */
  async connectTree(share: string): Promise<SmbTree> {
    const unc = `\\\\${this.host}\\${share}`;
    const res = await this.connection.send({ command: Command.TREE_CONNECT, body: encodeTreeConnectRequest(unc) }).response;
    expectSuccess(res, 'TREE_CONNECT');
    const tc = this.connection.decode(() => decodeTreeConnectResponse(res.message));
    const treeId = res.header.treeId;
    const security = this.connection.security!;
    const shareEncrypted = (tc.shareFlags & ShareFlag.ENCRYPT_DATA) !== 0;
    if (shareEncrypted) {
      if (!security.cipher) throw this.connection.abort(new SecurityError(`share ${share} requires encryption, which this session cannot do`));
      this.connection.markTreeEncrypted(treeId);
    }
    const tree = new SmbTree(this, treeId, {
      name: share,
      type: tc.shareType === ShareType.DISK ? 'disk' : tc.shareType === ShareType.PIPE ? 'pipe' : tc.shareType === ShareType.PRINT ? 'print' : 'unknown',
      flags: flagNames(tc.shareFlags, ShareFlag),
      capabilities: flagNames(tc.capabilities, ShareCapability),
      maximalAccess: tc.maximalAccess,
      encrypted: shareEncrypted || security.encryptAll,
    });
    if (!this.validated) {
      this.validated = true;
      await validateNegotiate(this.connection, this.negotiated, security, treeId);
    }
    return tree;
  }

  /** ECHO (MS-SMB2 3.2.4.17): a cheap round trip that proves the server is alive. */
  async echo(timeoutMs?: number): Promise<void> {
    const res = await this.connection.send({ command: Command.ECHO, body: encodeEmptyRequest(), ...(timeoutMs ? { timeoutMs } : {}) }).response;
    expectSuccess(res, 'ECHO');
    this.connection.decode(() => decodeEmptyResponse(res.message, 'ECHO response'));
  }

  /** LOGOFF and close the socket. Never throws: closing is best effort. */
  async close(): Promise<void> {
    this.renewal?.stop();
    if (this.connection.closed) return;
    try {
      await this.connection.send({ command: Command.LOGOFF, body: encodeEmptyRequest(), timeoutMs: 2000 }).response;
    } catch {
      // The socket is closed below either way.
    }
    this.connection.close();
  }
}

function formatGuid(b: Buffer): string {
  const h = b.toString('hex');
  // MS-DTYP 2.3.4: the first three fields are little-endian.
  const le = (s: string) => s.match(/../g)!.reverse().join('');
  return `${le(h.slice(0, 8))}-${le(h.slice(8, 12))}-${le(h.slice(12, 16))}-${h.slice(16, 20)}-${h.slice(20)}`;
}
