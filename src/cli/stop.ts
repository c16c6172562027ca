/**
 * How a command ends from outside: Ctrl-C (status 130), SIGTERM (143), or the reader of stdout
 * closing the pipe (0, quietly, as inotifywait does), the same for every long-running command.
 */

/** The command's exit status, carried out of commander's action. */
export class ExitStatus extends Error {
  constructor(readonly status: number) {
    super(`exit ${status}`);
  }
}

/** What a command needs to learn that nobody reads its output any more. */
export interface StopIO {
  onOutputClosed?: (cb: () => void) => void;
}

/** Like a shell reports a process killed by the signal. */
export const SIGNAL_STATUS: Record<'SIGINT' | 'SIGTERM', number> = { SIGINT: 130, SIGTERM: 143 };

/**
 * How a long-running command ends from outside: Ctrl-C (130), SIGTERM (143), or the reader of
 * stdout closing the pipe (0, quietly, as inotifywait does). `stopped` resolves with the status
 * at the first of them, whatever the command is doing (connecting included); `race` makes any
 * awaited step give way to it.
 */
export function stopSignals(io: StopIO): {
  stopped: Promise<number>;
  race<T>(p: Promise<T>): Promise<T>;
  dispose(): void;
} {
  let stop!: (status: number) => void;
  const stopped = new Promise<number>((resolve) => {
    stop = resolve;
  });
  const onInt = () => stop(SIGNAL_STATUS.SIGINT);
  const onTerm = () => stop(SIGNAL_STATUS.SIGTERM);
  process.once('SIGINT', onInt);
  process.once('SIGTERM', onTerm);
  io.onOutputClosed?.(() => stop(0));
  return {
    stopped,
    race: <T>(p: Promise<T>) => Promise.race([p, stopped.then((status): never => {
      throw new ExitStatus(status);
    })]),
    dispose() {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    },
  };
}

