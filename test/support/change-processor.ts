// A ChangeProcessor on its own, for tests of what it makes of notifications: a server that serves
// every name as it is and confirms each at once (a known name added again is the same file); events land in `out` as they go out.
import { ChangeProcessor, type ChangeContext, type ChangeProcessorOptions } from '../../src/watch/change-processor.js';
import { EventFactory, type WatchEvent } from '../../src/watch/events.js';
import { EventOutbox } from '../../src/watch/outbox.js';
import type { Snapshot } from '../../src/watch/snapshot.js';

/** `windowMs`: how long the outbox holds a half of a possible move between folders (0: none). */
export function standaloneProcessor(snapshot: Snapshot, watch: string, out: WatchEvent[], opts: ChangeProcessorOptions, windowMs = 0): ChangeProcessor {
  const events = new EventFactory({ server: 's', share: 'data', watch });
  const outbox = new EventOutbox(windowMs, (e) => out.push(events.stamp(e)));
  const context: ChangeContext = {
    snapshot,
    events,
    enqueue: (task) => void task(),
    closeFolders: () => undefined,
    moveFolders: () => undefined,
    isWatched: () => false,
    refusedToUs: () => false,
    confirmName: (_path, item, _watch, companion) => {
      if (companion) outbox.settle(companion);
      if (item) outbox.settle(item);
    },
    verifyFolder: () => undefined,
    // The same file as known: an addition of a known name is old news here.
    recheckName: () => undefined,
    listedOtherwise: () => false,
  };
  return new ChangeProcessor(context, outbox, opts);
}
