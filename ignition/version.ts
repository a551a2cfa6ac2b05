/** Reading ignition.version the way Ignition does before it picks the spec to parse with (its "version stub"). */
import type { JsonNode } from './parse.js';

export const ErrEmpty = 'not a config (empty)';
export const ErrInvalidVersion = "invalid config version (couldn't parse)";
export const ErrUnknownVersion = 'unsupported config version';

export type VersionCheck =
  | { ok: true; version: string; node: JsonNode }
  | { ok: false; message: string; node?: JsonNode; typeError?: boolean };

/** coreos/go-semver: MAJOR.MINOR.PATCH with an optional -prerelease and +metadata. */
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;

export function goKind(node: JsonNode): string {
  switch (node.kind) {
    case 'object':
      return 'object';
    case 'array':
      return 'array';
    case 'string':
      return 'string';
    case 'number':
      return 'number';
    case 'boolean':
      return 'bool';
    default:
      return 'null';
  }
}

export function readVersion(root: JsonNode, supported: (v: string) => boolean): VersionCheck {
  if (root.kind === 'null') return { ok: false, message: ErrInvalidVersion };
  if (root.kind !== 'object') return { ok: false, message: `json: cannot unmarshal ${goKind(root)} into Go value of type util.versionStub`, node: root, typeError: true };
  // Go decodes every "ignition" key (matched case-insensitively) in document order into one struct: the first type
  // error wins, and a later key without a version keeps the earlier version.
  let ver: JsonNode | undefined;
  let ign: JsonNode | undefined;
  for (const m of root.members) {
    if (m.key.toLowerCase() !== 'ignition' || m.value.kind === 'null') continue;
    if (m.value.kind !== 'object') {
      return { ok: false, message: `json: cannot unmarshal ${goKind(m.value)} into Go struct field versionStub.Ignition of type struct { Version string }`, node: m.value, typeError: true };
    }
    ign = m.value;
    for (const vm of m.value.members) {
      if (vm.key.toLowerCase() !== 'version' || vm.value.kind === 'null') continue;
      if (vm.value.kind !== 'string') return { ok: false, message: `json: cannot unmarshal ${goKind(vm.value)} into Go struct field .Ignition.Version of type string`, node: vm.value, typeError: true };
      ver = vm.value;
    }
  }
  if (!ver) return { ok: false, message: ErrInvalidVersion, node: ign };
  const v = (ver as { value: string }).value;
  if (!SEMVER.test(v)) return { ok: false, message: ErrInvalidVersion, node: ver };
  if (!supported(v)) return { ok: false, message: ErrUnknownVersion, node: ver };
  return { ok: true, version: v, node: ver };
}

/**
 * readVersion on the value JSON.parse made (no repeated keys: see parse.ts plainJsonKeys): the version when
 * readVersion would accept it, otherwise undefined (the caller then reads the positioned tree, which locates the
 * problem).
 */
export function readVersionPlain(root: Record<string, unknown>, supported: (v: string) => boolean): string | undefined {
  let ver: string | undefined;
  for (const key in root) {
    const ign = root[key];
    if (key.toLowerCase() !== 'ignition' || ign === null) continue;
    if (typeof ign !== 'object' || Array.isArray(ign)) return undefined;
    for (const vk in ign) {
      const v = (ign as Record<string, unknown>)[vk];
      if (vk.toLowerCase() !== 'version' || v === null) continue;
      if (typeof v !== 'string') return undefined;
      ver = v;
    }
  }
  return ver !== undefined && SEMVER.test(ver) && supported(ver) ? ver : undefined;
}
