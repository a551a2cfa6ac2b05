/** Test fixture: a fresh temporary directory per test with FCOS_CACHE_DIR pointing at its `cache/`, restored after. */
import { afterEach, beforeEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Registers beforeEach/afterEach in the calling describe block; `set` receives each test's directory. */
export function useTempCacheDir(prefix: string, set: (dir: string) => void): void {
  let dir = '';
  let oldCache: string | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
    set(dir);
    oldCache = process.env.FCOS_CACHE_DIR;
    process.env.FCOS_CACHE_DIR = join(dir, 'cache');
  });
  afterEach(() => {
    if (oldCache === undefined) delete process.env.FCOS_CACHE_DIR;
    else process.env.FCOS_CACHE_DIR = oldCache;
    rmSync(dir, { recursive: true, force: true });
  });
}
