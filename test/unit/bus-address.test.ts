// Every unix:path= bus address reaches dbus-next in the form it opens with Node's own socket, so
// no native module is needed for it.
import { describe, expect, it } from 'vitest';
import { nodeSocketAddress } from '../../src/sinks/bus.js';

describe('nodeSocketAddress', () => {
  it('unix:path= becomes unix:socket= with the same path, guid dropped', () => {
    expect(nodeSocketAddress('unix:path=/run/user/1000/bus')).toBe('unix:socket=/run/user/1000/bus');
    expect(nodeSocketAddress('unix:path=/tmp/x/bus,guid=0123456789abcdef0123456789abcdef')).toBe('unix:socket=/tmp/x/bus');
  });
  it('unix:abstract= is left to usocket (Node 20 cannot reach it)', () => {
    expect(nodeSocketAddress('unix:abstract=/tmp/dbus-ABC,guid=ff')).toBe('unix:abstract=/tmp/dbus-ABC,guid=ff');
  });
  it('%XX escapes are decoded (D-Bus address escaping)', () => {
    expect(nodeSocketAddress('unix:path=/tmp/My%20Bus/bus')).toBe('unix:socket=/tmp/My Bus/bus');
  });
  it('keeps what dbus-next could not carry, and other transports, unchanged', () => {
    expect(nodeSocketAddress('unix:path=/tmp/a%2cb')).toBe('unix:path=/tmp/a%2cb');
    expect(nodeSocketAddress('tcp:host=127.0.0.1,port=5000')).toBe('tcp:host=127.0.0.1,port=5000');
    expect(nodeSocketAddress('unix:path=/a;tcp:host=h,port=1')).toBe('unix:socket=/a;tcp:host=h,port=1');
  });
});
