/**
 * Kernel arguments of a deployment, and the first-boot files on /boot. Pure, unit-tested.
 */
import { UserError } from '../lib/errors.js';

/**
 * GRUB expands this variable: it is "ignition.firstboot ignition.platform.id=…" while the stamp /ignition.firstboot
 * exists on the boot partition, and empty after (FCOS's scheme; see ostree/guest/overlay/etc/grub.d/05_fcos_firstboot).
 * It is a literal karg of the deployment, so it survives `ostree admin upgrade`.
 */
export const FIRSTBOOT_KARG = '$ignition_firstboot';

export interface KargsInput {
  /** From the manifest (meta.json `kernel-arguments`). */
  manifest?: readonly string[];
  rootLabel?: string;
}

function key(arg: string): string {
  const i = arg.indexOf('=');
  return i < 0 ? arg : arg.slice(0, i);
}

/**
 * root=LABEL=root rw, then the manifest's arguments, then $ignition_firstboot.
 * A console= that the manifest lacks is added (ttyS0: the serial console is how fcos watches a boot).
 * `ostree=` is added by ostree itself and refused here; duplicates (same key and value) are dropped; a manifest
 * root= replaces ours.
 */
export function assembleKargs(input: KargsInput = {}): string[] {
  const manifest = [...(input.manifest ?? [])];
  for (const a of manifest) {
    // The manifest's validation refuses it already; a compose made before that check may still carry it.
    if (key(a) === 'ostree') throw new UserError(`kernel argument '${a}': ostree= is set by ostree itself`, 'remove it from the manifest\'s kernel-arguments and compose again');
  }
  const out: string[] = [];
  const push = (a: string) => {
    if (!out.includes(a)) out.push(a);
  };
  if (!manifest.some((a) => key(a) === 'root')) push(`root=LABEL=${input.rootLabel ?? 'root'}`);
  push('rw');
  for (const a of manifest) push(a);
  if (!out.some((a) => key(a) === 'console')) push('console=ttyS0,115200n8');
  push(FIRSTBOOT_KARG);
  return out;
}

/** The stamp GRUB sources on first boot (a GRUB script). */
export function firstbootStamp(platform = 'qemu'): string {
  return [
    '# fcos: present until the first boot completes (deleted by fcos-firstboot-complete.service).',
    '# Sourced by grub.cfg (05_fcos_firstboot): it may set ignition_platform and ignition_network_kcmdline.',
    `set ignition_platform="${platform}"`,
    '',
  ].join('\n');
}

/** A BLS entry (/boot/loader/entries/*.conf), parsed. */
export interface BlsEntry {
  title?: string;
  version?: string;
  linux?: string;
  initrd?: string;
  options?: string;
  [k: string]: string | undefined;
}

export function parseBls(text: string): BlsEntry {
  const e: BlsEntry = {};
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const m = /^(\S+)\s+(.*)$/.exec(t);
    if (m) e[m[1]!] = m[2]!;
  }
  return e;
}
