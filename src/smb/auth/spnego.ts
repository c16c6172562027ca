/**
 * SPNEGO (RFC 4178, with Microsoft's NegTokenInit2 of MS-SPNG 2.2.1) carrying NTLMSSP or Kerberos
 * in SMB2 NEGOTIATE and SESSION_SETUP security buffers.
 */
import { ProtocolError } from '../errors.js';
import { contextTag, decodeOid, encodeOid, encodeTlv, expectTlv, readChildren, readTlv, Tag, type Tlv, unwrapExplicit } from './der.js';

export const SPNEGO_OID = '1.3.6.1.5.5.2';
export const NTLMSSP_OID = '1.3.6.1.4.1.311.2.2.10';
/** Kerberos V5 for GSS-API (RFC 4121), and Microsoft's legacy OID for it (MS-SPNG 3.3.5.1). */
export const KRB5_OID = '1.2.840.113554.1.2.2';
export const MS_KRB5_OID = '1.2.840.48018.1.2.2';

export type NegState = 'accept-completed' | 'accept-incomplete' | 'reject' | 'request-mic';
/** RFC 4178 4.2.2: negState ENUMERATED values in order. */
const NEG_STATES: readonly NegState[] = ['accept-completed', 'accept-incomplete', 'reject', 'request-mic'];

export type NegToken =
  | { kind: 'init'; mechTypes: string[]; mechToken?: Buffer }
  | { kind: 'resp'; negState?: NegState; supportedMech?: string; responseToken?: Buffer; mechListMIC?: Buffer };

/** RFC 4178 4.2.1: MechTypeList ::= SEQUENCE OF MechType; the bytes a mechListMIC covers. */
export function encodeMechTypeList(mechTypes: string[]): Buffer {
  return encodeTlv(Tag.SEQUENCE, Buffer.concat(mechTypes.map(encodeOid)));
}

/** RFC 4178 4.2.1 NegTokenInit inside the RFC 2743 3.1 InitialContextToken. */
export function encodeNegTokenInit(mechTypes: string[], mechToken: Buffer): Buffer {
  const negTokenInit = encodeTlv(
    Tag.SEQUENCE,
    Buffer.concat([
      encodeTlv(contextTag(0), encodeMechTypeList(mechTypes)),
      encodeTlv(contextTag(2), encodeTlv(Tag.OCTET_STRING, mechToken)),
    ]),
  );
  return encodeTlv(Tag.APPLICATION_0, Buffer.concat([encodeOid(SPNEGO_OID), encodeTlv(contextTag(0), negTokenInit)]));
}

/**
 * RFC 4178 4.2.2 NegTokenResp, tagged [1] as the NegotiationToken choice. Clients normally omit
 * negState (Samba does); Windows sends accept-incomplete with its AUTHENTICATE message.
 */
export function encodeNegTokenResp(opts: { negState?: NegState; responseToken?: Buffer; mechListMIC?: Buffer }): Buffer {
  const fields: Buffer[] = [];
  if (opts.negState !== undefined) {
    fields.push(encodeTlv(contextTag(0), encodeTlv(Tag.ENUMERATED, Buffer.from([NEG_STATES.indexOf(opts.negState)]))));
  }
  if (opts.responseToken) fields.push(encodeTlv(contextTag(2), encodeTlv(Tag.OCTET_STRING, opts.responseToken)));
  if (opts.mechListMIC) fields.push(encodeTlv(contextTag(3), encodeTlv(Tag.OCTET_STRING, opts.mechListMIC)));
  return encodeTlv(contextTag(1), encodeTlv(Tag.SEQUENCE, Buffer.concat(fields)));
}

function octetString(field: Tlv, what: string): Buffer {
  return Buffer.from(unwrapExplicit(field, Tag.OCTET_STRING, what).content);
}

/** The SEQUENCE inside [0] NegTokenInit / [1] NegTokenResp, as a map from context tag to field. */
function fieldsOf(choice: Tlv, what: string): Map<number, Tlv> {
  const seq = unwrapExplicit(choice, Tag.SEQUENCE, what);
  const fields = new Map<number, Tlv>();
  for (const field of readChildren(seq.content, what)) {
    if ((field.tag & 0xe0) !== 0xa0) throw new ProtocolError(`${what}: unexpected DER tag 0x${field.tag.toString(16)}`);
    if (fields.has(field.tag)) throw new ProtocolError(`${what}: field [${field.tag & 0x1f}] repeated`);
    fields.set(field.tag, field);
  }
  return fields;
}

/**
 * NegTokenInit (RFC 4178 4.2.1) or NegTokenInit2 (MS-SPNG 2.2.1): [0] mechTypes, [1] reqFlags,
 * [2] mechToken, [3] negHints or mechListMIC, [4] mechListMIC. Only mechTypes and mechToken
 * matter to a client; the rest is skipped.
 */
function decodeInit(choice: Tlv): NegToken {
  const fields = fieldsOf(choice, 'NegTokenInit');
  const mechTypesField = fields.get(contextTag(0));
  if (!mechTypesField) throw new ProtocolError('NegTokenInit without mechTypes');
  const list = unwrapExplicit(mechTypesField, Tag.SEQUENCE, 'NegTokenInit mechTypes');
  const mechTypes = readChildren(list.content, 'NegTokenInit mechTypes').map((oid) => {
    if (oid.tag !== Tag.OID) throw new ProtocolError('NegTokenInit mechTypes holds a non-OID');
    return decodeOid(oid.content);
  });
  const tokenField = fields.get(contextTag(2));
  return tokenField
    ? { kind: 'init', mechTypes, mechToken: octetString(tokenField, 'NegTokenInit mechToken') }
    : { kind: 'init', mechTypes };
}

/** NegTokenResp (RFC 4178 4.2.2): [0] negState, [1] supportedMech, [2] responseToken, [3] mechListMIC. */
function decodeResp(choice: Tlv): NegToken {
  const fields = fieldsOf(choice, 'NegTokenResp');
  const token: NegToken & { kind: 'resp' } = { kind: 'resp' };
  const state = fields.get(contextTag(0));
  if (state) {
    const value = unwrapExplicit(state, Tag.ENUMERATED, 'NegTokenResp negState').content;
    const name = value.length === 1 ? NEG_STATES[value[0]!] : undefined;
    if (!name) throw new ProtocolError(`NegTokenResp negState ${value.toString('hex')} is not defined`);
    token.negState = name;
  }
  const mech = fields.get(contextTag(1));
  if (mech) token.supportedMech = decodeOid(unwrapExplicit(mech, Tag.OID, 'NegTokenResp supportedMech').content);
  const response = fields.get(contextTag(2));
  if (response) token.responseToken = octetString(response, 'NegTokenResp responseToken');
  const mic = fields.get(contextTag(3));
  if (mic) token.mechListMIC = octetString(mic, 'NegTokenResp mechListMIC');
  return token;
}

/**
 * Decode a SPNEGO token from the server: the GSS-wrapped NegTokenInit of a NEGOTIATE response, or a
 * bare [0] / [1] NegotiationToken of a SESSION_SETUP response. Bytes after the token are ignored.
 */
export function decodeNegToken(buf: Buffer): NegToken {
  const outer = readTlv(buf, 0, 'SPNEGO token');
  let choice = outer;
  if (outer.tag === Tag.APPLICATION_0) {
    const mech = expectTlv(outer.content, 0, Tag.OID, 'GSS-API token mechanism');
    const oid = decodeOid(mech.content);
    if (oid !== SPNEGO_OID) throw new ProtocolError(`GSS-API token for ${oid}, not SPNEGO`);
    choice = readTlv(outer.content, mech.end, 'SPNEGO NegotiationToken');
    if (choice.end !== outer.content.length) throw new ProtocolError('trailing bytes inside the GSS-API token');
  }
  if (choice.tag === contextTag(0)) return decodeInit(choice);
  if (choice.tag === contextTag(1)) return decodeResp(choice);
  throw new ProtocolError(`not a SPNEGO NegotiationToken: DER tag 0x${choice.tag.toString(16)}`);
}
