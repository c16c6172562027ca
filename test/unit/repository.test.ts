// The repository stands alone: no pointer to notes outside it, and every docs/ file that code,
// tests or the README name exists.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    // Installed packages are not ours (test/.optional holds usocket's, with their own docs/ links).
    if (name === 'node_modules' || name === '.optional') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (/\.(ts|md|sh|xml|conf|service|json)$/.test(name)) out.push(p);
  }
  return out;
}

const SOURCES = [...files(join(ROOT, 'src')), ...files(join(ROOT, 'test')), ...files(join(ROOT, 'docs')), ...files(join(ROOT, 'systemd')), join(ROOT, 'README.md')];
// Spelled in pieces so that this file does not match itself.
const OUTSIDE = [['DESIGN', '.md'], ['TESTBENCH', '.md'], ['../', 'shared'], ['/work/', 'shared']].map((p) => p.join(''));

describe('the repository stands alone', () => {
  it('nothing points to notes outside the repository', () => {
    const hits: string[] = [];
    for (const f of SOURCES) {
      const text = readFileSync(f, 'utf8');
      for (const word of OUTSIDE) if (text.includes(word)) hits.push(`${relative(ROOT, f)}: ${word}`);
    }
    expect(hits).toEqual([]);
  });

  it('every docs/ file named in src, test and the README exists', () => {
    const missing: string[] = [];
    for (const f of SOURCES) {
      for (const m of readFileSync(f, 'utf8').matchAll(/\bdocs\/([\w.-]+\.md)/g)) {
        if (!existsSync(join(ROOT, 'docs', m[1]!))) missing.push(`${relative(ROOT, f)}: docs/${m[1]}`);
      }
    }
    expect(missing).toEqual([]);
    expect(SOURCES.filter((f) => f.startsWith(join(ROOT, 'docs'))).length).toBeGreaterThanOrEqual(4);
  });
});
