/**
 * What SESSION_SETUP needs from an authentication mechanism (MS-SMB2 3.2.4.2.3, 3.2.5.3): the
 * security buffers to send, the server's to take in, and the session key at the end.
 */
export interface AuthMechanism {
  /** For messages: "NTLMv2", "Kerberos". */
  readonly name: string;
  /** The first SESSION_SETUP security buffer (a SPNEGO NegTokenInit). */
  initialToken(): Buffer;
  /** The server's buffer of a MORE_PROCESSING_REQUIRED response in, our next buffer out. */
  continue(serverToken: Buffer): Buffer;
  /** The server's buffer of the final SUCCESS response (may be empty); throws when not authenticated. */
  complete(serverToken: Buffer): void;
  /** Session.SessionKey source (MS-SMB2 3.2.5.3.1), once complete. */
  sessionKey(): Buffer;
}
