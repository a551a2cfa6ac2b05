/**
 * Translate an Ignition config down to what the image's Ignition understands.
 *
 * The image ships Debian's Ignition 2.14, which reads spec 3.0.0–3.3.0 (plus 3.4.0-experimental). fcos accepts
 * configs up to 3.6.0, so a newer config is translated down to 3.3.0 when it uses nothing newer, and refused
 * (with the JSON path of every field at fault) when it does. Like coreos/ignition's per-version `translate/`
 * packages, only what changed between versions matters: the whole 3.3.0 key tree is listed below, so any key
 * that 3.3.0 does not know is, by construction, something newer.
 *
 * Pure: no I/O. The caller decides what to do with the findings.
 */
import type { Finding } from './report.js';

/** The spec version the image's Ignition (2.14) reads. */
export const IMAGE_SPEC_VERSION = '3.3.0';

/** Versions Ignition 2.14 reads as they are. */
const NATIVE = new Set(['3.0.0', '3.1.0', '3.2.0', '3.3.0']);
/** Versions we translate down (their 3.3.0 subset). */
const NEWER = new Set(['3.4.0-experimental', '3.4.0', '3.5.0', '3.5.0-experimental', '3.6.0', '3.6.0-experimental']);

/** A node of the 3.3.0 key tree: an object's known keys, an array of one shape, or a leaf. */
type Shape = { [key: string]: Shape } | [Shape] | 'leaf';

const resource: Shape = {
  source: 'leaf',
  compression: 'leaf',
  httpHeaders: [{ name: 'leaf', value: 'leaf' }],
  verification: { hash: 'leaf' },
};
const owner: Shape = { id: 'leaf', name: 'leaf' };
const node: { [key: string]: Shape } = { path: 'leaf', overwrite: 'leaf', user: owner, group: owner };

/** Every key of Ignition spec 3.3.0 (coreos/ignition config/v3_3/schema/ignition.json). */
export const SPEC_3_3_SHAPE: Shape = {
  ignition: {
    version: 'leaf',
    config: { merge: [resource], replace: resource },
    timeouts: { httpResponseHeaders: 'leaf', httpTotal: 'leaf' },
    security: { tls: { certificateAuthorities: [resource] } },
    proxy: { httpProxy: 'leaf', httpsProxy: 'leaf', noProxy: 'leaf' },
  },
  storage: {
    disks: [
      {
        device: 'leaf',
        wipeTable: 'leaf',
        partitions: [
          {
            label: 'leaf',
            number: 'leaf',
            sizeMiB: 'leaf',
            startMiB: 'leaf',
            typeGuid: 'leaf',
            guid: 'leaf',
            wipePartitionEntry: 'leaf',
            shouldExist: 'leaf',
            resize: 'leaf',
          },
        ],
      },
    ],
    raid: [{ name: 'leaf', level: 'leaf', devices: 'leaf', spares: 'leaf', options: 'leaf' }],
    filesystems: [
      {
        device: 'leaf',
        format: 'leaf',
        path: 'leaf',
        wipeFilesystem: 'leaf',
        label: 'leaf',
        uuid: 'leaf',
        options: 'leaf',
        mountOptions: 'leaf',
      },
    ],
    files: [{ ...node, contents: resource, append: [resource], mode: 'leaf' }],
    directories: [{ ...node, mode: 'leaf' }],
    links: [{ ...node, target: 'leaf', hard: 'leaf' }],
    luks: [
      {
        name: 'leaf',
        device: 'leaf',
        keyFile: resource,
        label: 'leaf',
        uuid: 'leaf',
        options: 'leaf',
        wipeVolume: 'leaf',
        clevis: {
          tang: [{ url: 'leaf', thumbprint: 'leaf' }],
          tpm2: 'leaf',
          threshold: 'leaf',
          custom: { pin: 'leaf', config: 'leaf', needsNetwork: 'leaf' },
        },
      },
    ],
  },
  systemd: {
    units: [{ name: 'leaf', enabled: 'leaf', mask: 'leaf', contents: 'leaf', dropins: [{ name: 'leaf', contents: 'leaf' }] }],
  },
  passwd: {
    users: [
      {
        name: 'leaf',
        passwordHash: 'leaf',
        sshAuthorizedKeys: 'leaf',
        uid: 'leaf',
        gecos: 'leaf',
        homeDir: 'leaf',
        noCreateHome: 'leaf',
        primaryGroup: 'leaf',
        groups: 'leaf',
        noUserGroup: 'leaf',
        noLogInit: 'leaf',
        shell: 'leaf',
        shouldExist: 'leaf',
        system: 'leaf',
      },
    ],
    groups: [{ name: 'leaf', gid: 'leaf', passwordHash: 'leaf', shouldExist: 'leaf', system: 'leaf' }],
  },
  kernelArguments: { shouldExist: 'leaf', shouldNotExist: 'leaf' },
};

/** Where a newer key came from, for a useful message. */
const NEWER_KEYS: Record<string, string> = {
  advertisement: 'offline Tang advertisement (spec 3.4.0)',
  discard: 'LUKS discard (spec 3.4.0)',
  openOptions: 'LUKS open options (spec 3.4.0)',
  cex: 'LUKS with IBM CEX keys (spec 3.5.0)',
};

export interface DownlevelOptions {
  /** Refuse `kernelArguments` (the image has no kargs helper). Default true. */
  refuseKernelArguments?: boolean;
}

export interface DownlevelResult {
  /** The config the image's Ignition will read (unchanged when it was already ≤ 3.3.0). Absent when refused. */
  config?: Record<string, unknown>;
  /** The version the user wrote. */
  fromVersion?: string;
  /** The version handed to the image. */
  toVersion?: string;
  /** Errors (refusals, each with the path at fault) and warnings. */
  findings: Finding[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Ignition's path notation: $.storage.files.0.path */
function jpath(parts: readonly (string | number)[]): string {
  return ['$', ...parts].join('.');
}

/** Walk the config against the 3.3.0 key tree; report every key 3.3.0 does not know. */
function unknownKeys(value: unknown, shape: Shape, at: (string | number)[], out: Finding[]): void {
  if (shape === 'leaf') return;
  if (Array.isArray(shape)) {
    if (!Array.isArray(value)) return;
    value.forEach((item, i) => unknownKeys(item, shape[0], [...at, i], out));
    return;
  }
  if (!isObject(value)) return;
  for (const [k, v] of Object.entries(value)) {
    const sub = shape[k];
    if (sub === undefined) {
      const what = NEWER_KEYS[k] ? `${NEWER_KEYS[k]}` : `'${k}'`;
      out.push({
        severity: 'error',
        path: jpath([...at, k]),
        message: `${what} is not supported by the image's Ignition (2.14, spec ≤ ${IMAGE_SPEC_VERSION}); remove it`,
      });
      continue;
    }
    unknownKeys(v, sub, [...at, k], out);
  }
}

/** 3.4.0 honours setuid/setgid/sticky; 2.14 would silently drop them. */
function specialModeBits(config: Record<string, unknown>, out: Finding[]): void {
  const storage = config.storage;
  if (!isObject(storage)) return;
  for (const kind of ['files', 'directories'] as const) {
    const list = storage[kind];
    if (!Array.isArray(list)) continue;
    list.forEach((entry, i) => {
      if (isObject(entry) && typeof entry.mode === 'number' && (entry.mode & 0o7000) !== 0) {
        out.push({
          severity: 'error',
          path: jpath(['storage', kind, i, 'mode']),
          message: `mode ${'0' + entry.mode.toString(8)} has setuid/setgid/sticky bits, which the image's Ignition (spec ≤ ${IMAGE_SPEC_VERSION}) ignores`,
        });
      }
    });
  }
}

/** Refuse kernelArguments: Debian's Ignition 2.14 ships a stub kargs helper that always fails. */
function kernelArguments(config: Record<string, unknown>, out: Finding[]): void {
  const ka = config.kernelArguments;
  if (!isObject(ka)) return;
  for (const k of ['shouldExist', 'shouldNotExist']) {
    const list = ka[k];
    if (Array.isArray(list) && list.length > 0) {
      out.push({
        severity: 'error',
        path: jpath(['kernelArguments', k]),
        message:
          'kernelArguments are not supported: the image\'s Ignition (Debian 2.14) has no kargs helper; set default kernel arguments in the manifest instead',
      });
    }
  }
}

/**
 * Make a parsed config readable by the image's Ignition.
 * - 3.0.0–3.3.0: returned as is (after the support checks).
 * - 3.4.0/3.5.0/3.6.0: refused if it uses anything newer than 3.3.0, else returned with version 3.3.0.
 */
export function downlevelConfig(input: unknown, opts: DownlevelOptions = {}): DownlevelResult {
  const findings: Finding[] = [];
  if (!isObject(input)) {
    return { findings: [{ severity: 'error', path: '$', message: 'config is not a JSON object' }] };
  }
  const ign = input.ignition;
  const version = isObject(ign) && typeof ign.version === 'string' ? ign.version : undefined;
  if (!version) return { findings: [{ severity: 'error', path: '$.ignition.version', message: 'ignition.version is missing' }] };
  if (!NATIVE.has(version) && !NEWER.has(version)) {
    return {
      fromVersion: version,
      findings: [{ severity: 'error', path: '$.ignition.version', message: `spec version ${version} is not supported (3.0.0–3.6.0)` }],
    };
  }
  if (opts.refuseKernelArguments ?? true) kernelArguments(input, findings);
  if (NATIVE.has(version)) {
    if (findings.some((f) => f.severity === 'error')) return { fromVersion: version, findings };
    return { config: input, fromVersion: version, toVersion: version, findings };
  }
  unknownKeys(input, SPEC_3_3_SHAPE, [], findings);
  specialModeBits(input, findings);
  if (findings.some((f) => f.severity === 'error')) return { fromVersion: version, findings };
  const out = structuredClone(input);
  (out.ignition as Record<string, unknown>).version = IMAGE_SPEC_VERSION;
  findings.push({ severity: 'warning', path: '$.ignition.version', message: `translated from ${version} to ${IMAGE_SPEC_VERSION} for the image's Ignition (2.14)` });
  return { config: out, fromVersion: version, toVersion: IMAGE_SPEC_VERSION, findings };
}
