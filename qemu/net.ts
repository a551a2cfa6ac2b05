/** Local ports: pick a free one by binding port 0 and letting the kernel choose. */
import { createServer } from 'node:net';
import { UserError } from '../lib/errors.js';

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.once('error', reject);
    s.listen(0, host, () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => (port ? resolve(port) : reject(new UserError(`could not pick a free port on ${host}`))));
    });
  });
}

/** Is something listening there already? (A port the user picked with --ssh-port must be free.) */
export function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.unref();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}
