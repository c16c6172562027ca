// The desktop check (not in CI: it needs Xvfb, Nautilus, Dolphin, Thunar, Nemo and ImageMagick):
//   npx vitest run --config test/desktop/vitest.config.ts
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/desktop/**/*.desktop.ts'],
    testTimeout: 180_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
