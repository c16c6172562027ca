/**
 * The environment for the system programs a view runs (mount, umount, fusermount3, and the
 * watchdog's sh and awk). As root, they are looked up in the system's own folders only: a PATH
 * inherited from a user's shell (`sudo -E`, a careless unit) must not choose what runs as root.
 * An ordinary user keeps their PATH: what they run runs as them.
 */
export const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function systemToolEnv(): NodeJS.ProcessEnv {
  return process.getuid?.() === 0 ? { ...process.env, PATH: SYSTEM_PATH } : process.env;
}
