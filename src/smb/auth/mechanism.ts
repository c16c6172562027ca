/**
 * What SESSION_SETUP needs from an authentication mechanism (MS-SMB2 3.2.4.2.3, 3.2.5.3): the
 * security buffers to send, the server's to take in, and the session key at the end.
 */
export interface AuthMechanism {
  /** For messages: "NTLMv2", "Kerberos". */
  readonly name: string;
  /** The first SESSION_SETUP security buffer (a SPNEGO NegTokenInit). */
  initialToken(): Buffer;
  /**
   * The server's buffer of a MORE_PROCESSING_REQUIRED response in, our next buffer out. Async:
   * Kerberos may have the GSSAPI library work on a thread (never on the event loop).
   */
  continue(serverToken: Buffer): Promise<Buffer>;
  /** The server's buffer of the final SUCCESS response (may be empty); rejects when not authenticated. */
  complete(serverToken: Buffer): Promise<void>;
  /** Session.SessionKey source (MS-SMB2 3.2.5.3.1), once complete. */
  sessionKey(): Buffer;
}
