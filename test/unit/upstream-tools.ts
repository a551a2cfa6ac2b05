/**
 * The real upstream tools the differential tests compare fcos with, built from the Go module proxy and cached by
 * scripts/upstream-tools.sh (under $FCOS_CACHE_DIR/upstream, like kubelet). A test that needs one calls this in
 * beforeAll: when the tool cannot be built, the test fails (it does not skip) with the script's output.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO } from './ignition-helpers.js';

export const UPSTREAM_VERSIONS = { 'ignition-validate': 'v2.24.0', butane: 'v0.25.1' } as const;
const execFileP = promisify(execFile);
const built = new Map<string, Promise<string>>();

/** Path of the upstream tool (building it on first use: a minute or two, then cached). */
export function upstreamTool(tool: keyof typeof UPSTREAM_VERSIONS): Promise<string> {
  let p = built.get(tool);
  if (!p) {
    p = execFileP('bash', [join(REPO, 'scripts', 'upstream-tools.sh'), tool], { maxBuffer: 64 << 20, timeout: 15 * 60_000 }).then(
      ({ stdout }) => {
        const path = stdout.trim().split('\n').pop() ?? '';
        if (!path.startsWith('/')) throw new Error(`scripts/upstream-tools.sh ${tool} printed no binary path: ${stdout}`);
        return path;
      },
      (e: { stderr?: string; message?: string }) => {
        throw new Error(
          `cannot build the upstream ${tool} ${UPSTREAM_VERSIONS[tool]} with scripts/upstream-tools.sh (needs Go and the Go module proxy; ` +
            `it is cached under $FCOS_CACHE_DIR/upstream afterwards): ${(e.stderr ?? e.message ?? String(e)).trim().split('\n').slice(-15).join('\n')}`,
        );
      },
    );
    built.set(tool, p);
  }
  return p;
}
