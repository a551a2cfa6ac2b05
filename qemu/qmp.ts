/** A minimal QMP client: connect to the unix socket, negotiate capabilities, execute one command. */
import { createConnection } from 'node:net';
import { ExternalError } from '../lib/errors.js';

export interface QmpReply {
  return?: unknown;
  error?: { class: string; desc: string };
}

export async function qmpExecute(socket: string, command: string, args?: Record<string, unknown>, timeoutMs = 10_000): Promise<QmpReply> {
  return new Promise((resolve, reject) => {
    const conn = createConnection(socket);
    let buf = '';
    let stage = 0; // 0: greeting, 1: capabilities sent, 2: command sent
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new ExternalError(`QEMU did not answer the QMP command ${command} within ${timeoutMs} ms`, `QMP ${command} on ${socket}`, undefined, ''));
    }, timeoutMs);
    const done = (fn: () => void) => {
      clearTimeout(timer);
      conn.end();
      fn();
    };
    conn.on('error', (e) => done(() => reject(e)));
    conn.on('data', (d) => {
      buf += d.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line);
        } catch {
          continue;
        }
        if ('event' in msg) continue;
        if (stage === 0 && 'QMP' in msg) {
          stage = 1;
          conn.write(JSON.stringify({ execute: 'qmp_capabilities' }) + '\n');
        } else if (stage === 1 && ('return' in msg || 'error' in msg)) {
          stage = 2;
          conn.write(JSON.stringify(args ? { execute: command, arguments: args } : { execute: command }) + '\n');
        } else if (stage === 2 && ('return' in msg || 'error' in msg)) {
          done(() => resolve(msg as QmpReply));
        }
      }
    });
  });
}
