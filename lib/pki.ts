/**
 * A small X.509 PKI through `openssl` (node:crypto cannot issue certificates): a CA, and leaf certificates with
 * SANs and extended key usages signed by it. EC P-256 keys (fast to make, accepted by etcd/Go TLS). Keys are written
 * with mode 0600; an existing key is never replaced here (callers decide, and say so).
 */
import { chmodSync, existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { run } from './run.js';
import { UserError } from './errors.js';

export interface LeafSpec {
  /** Subject CN. */
  cn: string;
  dns?: string[];
  ips?: string[];
  usage: ('serverAuth' | 'clientAuth')[];
  days?: number;
}

const CURVE = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];

/** Make a self-signed CA key + certificate. */
export async function makeCa(keyPath: string, certPath: string, cn: string, days = 3650): Promise<void> {
  const tmp = mkdtempSync(join(dirname(keyPath), '.ca-'));
  try {
    const k = join(tmp, 'key');
    await run(
      'openssl',
      ['req', '-x509', '-new', ...CURVE, '-nodes', '-keyout', k, '-out', certPath, '-days', String(days), '-subj', `/CN=${cn}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
      { purpose: 'make the cluster CA' },
    );
    installKey(k, keyPath);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Make a new key when keyPath does not exist (or reuse it), and issue a certificate for it signed by the CA. */
export async function issueLeaf(ca: { key: string; cert: string }, keyPath: string, certPath: string, spec: LeafSpec): Promise<{ newKey: boolean }> {
  const tmp = mkdtempSync(join(dirname(keyPath), '.leaf-'));
  try {
    const csr = join(tmp, 'csr');
    const newKey = !existsSync(keyPath);
    const k = newKey ? join(tmp, 'key') : keyPath;
    const keyArgs = newKey ? [...CURVE, '-nodes', '-keyout', k] : ['-key', k];
    await run('openssl', ['req', '-new', ...keyArgs, '-out', csr, '-subj', `/CN=${spec.cn}`], { purpose: `make a certificate request for ${spec.cn}` });
    const ext = join(tmp, 'ext.cnf');
    const san = [...(spec.dns ?? []).map((d) => `DNS:${d}`), ...(spec.ips ?? []).map((i) => `IP:${i}`)];
    writeFileSync(
      ext,
      [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        `extendedKeyUsage=${spec.usage.join(',')}`,
        ...(san.length ? [`subjectAltName=${san.join(',')}`] : []),
        'subjectKeyIdentifier=hash',
        'authorityKeyIdentifier=keyid',
        '',
      ].join('\n'),
    );
    await run(
      'openssl',
      ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', '0x' + randomSerial(), '-days', String(spec.days ?? 825), '-sha256', '-extfile', ext, '-out', certPath],
      { purpose: `sign the certificate of ${spec.cn}` },
    );
    if (newKey) installKey(k, keyPath);
    else chmodSync(keyPath, 0o600);
    return { newKey };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function installKey(from: string, to: string): void {
  chmodSync(from, 0o600);
  if (existsSync(to)) throw new UserError(`refusing to replace the existing key ${to}`, 'another run made it at the same time; move it aside and run again');
  renameSync(from, to);
}

function randomSerial(): string {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  b[0]! &= 0x7f;
  return Buffer.from(b).toString('hex');
}
