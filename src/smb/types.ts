/** Public shapes of the SMB client, shared by the client and its users (watch, cli). */

export type DialectName = '2.0.2' | '2.1' | '3.0' | '3.0.2' | '3.1.1';
export type SigningName = 'HMAC-SHA256' | 'AES-128-CMAC' | 'AES-128-GMAC';
export type EncryptionName = 'AES-128-CCM' | 'AES-128-GCM' | 'AES-256-CCM' | 'AES-256-GCM';

/** The least protection the user accepts; the client refuses, never downgrades. */
export type Protection = 'off' | 'sign' | 'encrypt';

export type Credentials =
  | { kind: 'user'; user: string; domain: string; password: string }
  | { kind: 'guest' }
  | { kind: 'anonymous' }
  | KerberosCredentials;

/**
 * Kerberos with the ticket in a credential cache (or a client keytab), as smbclient's
 * --use-kerberos: 'required' fails without Kerberos, 'desired' falls back to `fallback` (NTLM).
 */
export interface KerberosCredentials {
  kind: 'kerberos';
  use: 'required' | 'desired';
  /** KRB5CCNAME-style cache name (--use-krb5-ccache); default: the library's default cache. */
  ccache?: string;
  fallback?: Credentials;
}

export interface ConnectOptions {
  /** The server's name: the UNC paths and the Kerberos service principal (cifs/HOST) use it. */
  host: string;
  /** Where to connect when not `host` (smbclient -I): an IP address or another name. */
  address?: string;
  port?: number;
  credentials: Credentials;
  /** Highest dialect to offer (default 3.1.1). */
  maxDialect?: DialectName;
  /** Lowest dialect to offer (default 2.0.2). */
  minDialect?: DialectName;
  protect?: Protection;
  /** Per-request and connect timeout. */
  timeoutMs?: number;
  /** Signing algorithms to offer in 3.1.1, in order of preference (default: all three, GMAC first). */
  signingAlgorithms?: SigningName[];
  /** Ciphers to offer in 3.1.1, in order of preference (default: all four, AES-128-GCM first). */
  ciphers?: EncryptionName[];
  /** Client name sent in NTLM (default: the host name). */
  workstation?: string;
}

export interface SessionInfo {
  dialect: DialectName;
  signing: SigningName | null;
  encryption: EncryptionName | null;
  serverGuid: string;
  /** Names of SMB2_GLOBAL_CAP_* flags the server offered, e.g. ['DFS', 'LEASING', 'LARGE_MTU']. */
  capabilities: string[];
  signingRequired: boolean;
  maxTransactSize: number;
  maxReadSize: number;
  maxWriteSize: number;
  /** The server's clock at negotiate time. */
  systemTime: Date | null;
  /** SESSION_FLAG_* names, e.g. ['IS_GUEST'] or ['ENCRYPT_DATA']. */
  sessionFlags: string[];
  /** How the session was authenticated: 'NTLMv2', 'Kerberos', or 'none' (guest, anonymous). */
  authentication: string;
}

export interface ShareInfo {
  name: string;
  type: 'disk' | 'pipe' | 'print' | 'unknown';
  /** SMB2_SHAREFLAG_* names, e.g. ['ENCRYPT_DATA', 'ACCESS_BASED_DIRECTORY_ENUM']. */
  flags: string[];
  /** SMB2_SHARE_CAP_* names. */
  capabilities: string[];
  maximalAccess: number;
  /** True when messages on this tree are encrypted (session- or share-level). */
  encrypted: boolean;
}

export interface FileStat {
  name: string;
  isDirectory: boolean;
  size: bigint;
  allocationSize: bigint;
  creationTime: Date;
  lastAccessTime: Date;
  lastWriteTime: Date;
  changeTime: Date;
  /** FILE_ATTRIBUTE_* bits (MS-FSCC 2.6). */
  attributes: number;
  /**
   * The server's 64-bit file id (MS-FSCC 2.4.18), from listings; one folder reached by two paths
   * (a symlink to an ancestor) has one id. 0 or absent where the server does not give one.
   */
  fileId?: bigint;
}

/** Result of probing CHANGE_NOTIFY on a folder (sent, then cancelled). */
export type NotifyProbe =
  | { supported: true }
  /** refused: the server answered with another error (ACCESS_DENIED, say): notify is not known to work here. */
  | { supported: false; statusName: string; status: number; refused?: boolean };
