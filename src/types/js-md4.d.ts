/** Minimal types for js-md4 0.3 (CommonJS, no bundled types). Only the pure-JS outputs are
 * declared: the default call delegates to node:crypto's md4, which OpenSSL 3 no longer has. */
declare module 'js-md4' {
  type Message = string | ArrayBuffer | Uint8Array | number[];
  interface Md4 {
    arrayBuffer(message: Message): ArrayBuffer;
    array(message: Message): number[];
    hex(message: Message): string;
  }
  const md4: Md4;
  export default md4;
}
