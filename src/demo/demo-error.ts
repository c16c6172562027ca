/**
 * What keeps the demo from running on this machine (not root, a package missing, smbd not
 * starting): said as it is, not as an internal error.
 */
export class DemoSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DemoSetupError';
  }
}
