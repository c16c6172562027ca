/**
 * What `bus =` and `--bus` accept: `session`, `system`, `none`, or a D-Bus address (D-Bus
 * specification, "Server Addresses": `;`-separated elements, each `transport:key=value,...`).
 * Pure, so the config file can check it where it is written, with its file and line.
 */

/** Every `;`-separated element looks like `transport:...` (`unix:path=/run/user/1000/bus`). */
export function isBusAddress(address: string): boolean {
  return address.split(';').every((part) => /^[A-Za-z][A-Za-z0-9-]*:/.test(part));
}

export function isBusSpec(value: string): boolean {
  return value === 'session' || value === 'system' || value === 'none' || isBusAddress(value);
}
