/**
 * Signing of update commits (issue #6).
 *
 * Debian's libostree (bookworm 2022.7 on the host, trixie 2025.2 in the image) is built without libsodium and
 * without OpenSSL: `ostree sign --sign-type=ed25519` and `sign-verify=true` answer "ed25519: engine is not
 * supported". Both are built with gpgme, so fcos signs with an **ed25519 OpenPGP key** (`ostree gpg-sign`) and the
 * image verifies with `gpg-verify=true` and the public key (`gpgkeypath=`), as Fedora CoreOS does with its own keys.
 *
 *   builds/keys/gnupg/           the private key (GnuPG home, 0700); never served
 *   builds/keys/fcos-updates.gpg the public key (binary OpenPGP), shipped in the image as /usr/lib/fcos/updates.gpg
 *   builds/keys/key-id           the key's fingerprint
 *
 * The key is made once, in a temporary directory renamed into place, so an interrupted key generation leaves none.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../lib/run.js';
import { ExternalError, UserError } from '../../lib/errors.js';
import { info } from '../../lib/log.js';

export interface SigningKey {
  dir: string;
  homedir: string;
  /** OpenPGP fingerprint (40 hex). */
  keyId: string;
  /** The exported public key (binary). */
  publicKey: string;
}

export function keysDir(buildsDir: string): string {
  return join(buildsDir, 'keys');
}

/** The builds dir's signing key, or undefined when none was made yet. */
export function readSigningKey(buildsDir: string): SigningKey | undefined {
  const dir = keysDir(buildsDir);
  const idFile = join(dir, 'key-id');
  if (!existsSync(idFile) || !existsSync(join(dir, 'fcos-updates.gpg'))) return undefined;
  const keyId = readFileSync(idFile, 'utf8').trim();
  if (!/^[0-9A-F]{40}$/.test(keyId)) throw new UserError(`${idFile} holds no OpenPGP fingerprint`, `remove ${dir} to make a new signing key (hosts will then refuse updates signed with it)`);
  return { dir, homedir: join(dir, 'gnupg'), keyId, publicKey: join(dir, 'fcos-updates.gpg') };
}

/** Stop the gpg-agent gpg started for a home directory (it would outlive fcos). */
export async function stopAgent(homedir: string): Promise<void> {
  await run('gpgconf', ['--homedir', homedir, '--kill', 'gpg-agent'], { allowFailure: true, cleanup: true });
}

/** Make a new ed25519 OpenPGP key in dir (used for the builds dir's key and for tests' wrong keys). */
export async function generateKey(dir: string, uid = 'fcos updates <fcos-updates@localhost>'): Promise<SigningKey> {
  const homedir = join(dir, 'gnupg');
  mkdirSync(homedir, { recursive: true, mode: 0o700 });
  chmodSync(homedir, 0o700);
  const gpg = (args: string[], purpose: string) => run('gpg', ['--homedir', homedir, '--batch', '--no-tty', ...args], { purpose });
  try {
    await gpg(['--pinentry-mode', 'loopback', '--passphrase', '', '--quick-gen-key', uid, 'ed25519', 'sign', 'never'], 'make the ed25519 signing key');
    const list = await gpg(['--list-secret-keys', '--with-colons'], 'read the key fingerprint');
    const fpr = /^fpr:+([0-9A-F]{40}):/m.exec(list.stdout)?.[1];
    if (!fpr) throw new ExternalError('gpg printed no fingerprint', 'gpg --list-secret-keys', 0, list.stdout);
    const pub = await run('gpg', ['--homedir', homedir, '--batch', '--export', fpr], { purpose: 'export the public key', binary: true });
    if (!pub.stdoutBuffer?.length) throw new ExternalError('gpg exported no public key', 'gpg --export', 0, '');
    writeFileSync(join(dir, 'fcos-updates.gpg'), pub.stdoutBuffer);
    writeFileSync(join(dir, 'key-id'), fpr + '\n');
    return { dir, homedir, keyId: fpr, publicKey: join(dir, 'fcos-updates.gpg') };
  } finally {
    await stopAgent(homedir);
  }
}

/** The builds dir's signing key, made on first use. Call with the compose lock held. */
export async function ensureSigningKey(buildsDir: string): Promise<SigningKey> {
  const have = readSigningKey(buildsDir);
  if (have) return have;
  const dir = keysDir(buildsDir);
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  try {
    const k = await generateKey(tmp);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
    info(`made the update signing key ${k.keyId} in ${dir} (keep it: hosts trust only this key)`);
    return { ...k, dir, homedir: join(dir, 'gnupg'), publicKey: join(dir, 'fcos-updates.gpg') };
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Sign a commit (detached metadata, written atomically by ostree). */
export async function signCommit(repo: string, commit: string, key: Pick<SigningKey, 'homedir' | 'keyId'>): Promise<void> {
  try {
    await run('ostree', ['gpg-sign', `--repo=${repo}`, `--gpg-homedir=${key.homedir}`, commit, key.keyId], { purpose: `sign commit ${commit.slice(0, 12)}` });
  } finally {
    await stopAgent(key.homedir);
  }
}

/** Whether a commit carries a valid signature by the key (ostree show --gpg-verify-remote needs a remote; use gpg directly). */
export async function commitSignatures(repo: string, commit: string): Promise<string> {
  const r = await run('ostree', ['show', `--repo=${repo}`, '--print-detached-metadata-key=ostree.gpgsigs', commit], { allowFailure: true });
  return r.exitCode === 0 ? r.stdout : '';
}
