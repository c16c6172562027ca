// The shared table of passthrough registrations (src/view/passthrough-files.ts): whatever the
// order of opens, joins (the replay's open, which never registers) and releases, each file is
// registered once while it is open, later opens and joins share its backing id, and the last
// release ends it; entries that collide in the table stay reachable
// when others are removed (backward-shift deletion). Checked against a plain Map model.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PassthroughFiles } from '../../src/view/passthrough-files.js';

describe('PassthroughFiles', () => {
  it('registers each open file once, shares its id, and ends it with the last release', () => {
    // Node ids that collide in a 4,096-slot table (n, n + 4096, ...) next to ones that do not.
    const node = fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 5 }).map((k) => 7 + k * 4096)).map(BigInt);
    const step = fc.record({ op: fc.constantFrom('open', 'join', 'release'), node });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 300 }), (steps) => {
        const files = PassthroughFiles.create();
        const model = new Map<bigint, { id: number; count: number }>();
        let nextId = 0;
        const registered = new Set<number>();
        for (const s of steps) {
          if (s.op === 'join') {
            const m = model.get(s.node);
            expect(files.join(s.node)).toBe(m ? m.id : -1);
            if (m) m.count++;
          } else if (s.op === 'open') {
            const id = files.acquire(s.node, () => {
              const fresh = nextId++;
              registered.add(fresh);
              return fresh;
            });
            const m = model.get(s.node);
            if (m) {
              expect(id).toBe(m.id);
              m.count++;
            } else model.set(s.node, { id, count: 1 });
          } else {
            const m = model.get(s.node);
            let ended: number | undefined;
            files.release(s.node, (id) => (ended = id));
            if (!m) expect(ended).toBeUndefined();
            else if (--m.count > 0) expect(ended).toBeUndefined();
            else {
              expect(ended).toBe(m.id);
              registered.delete(m.id);
              model.delete(s.node);
            }
          }
        }
        // Exactly the open files hold a registration.
        expect([...registered].sort()).toEqual([...model.values()].map((m) => m.id).sort());
      }),
      { numRuns: 300 },
    );
  });

  it('a failed registration is not kept: the next open tries again', () => {
    const files = PassthroughFiles.create();
    expect(files.acquire(5n, () => -1)).toBe(-1);
    expect(files.acquire(5n, () => 3)).toBe(3);
    let ended = -1;
    files.release(5n, (id) => (ended = id));
    expect(ended).toBe(3);
  });
});
