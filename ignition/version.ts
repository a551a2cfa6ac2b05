/** Reading ignition.version the way Ignition does before it picks the spec to parse with (its "version stub"). */
import { findMember, type JsonNode } from './parse.js';

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
  const ign = findMember(root, 'ignition')?.value;
  if (!ign || ign.kind === 'null') return { ok: false, message: ErrInvalidVersion };
  if (ign.kind !== 'object') {
    return { ok: false, message: `json: cannot unmarshal ${goKind(ign)} into Go struct field versionStub.Ignition of type struct { Version string }`, node: ign, typeError: true };
  }
  const ver = findMember(ign, 'version')?.value;
  if (!ver || ver.kind === 'null') return { ok: false, message: ErrInvalidVersion, node: ign };
  if (ver.kind !== 'string') return { ok: false, message: `json: cannot unmarshal ${goKind(ver)} into Go struct field .Ignition.Version of type string`, node: ver, typeError: true };
  const v = ver.value as string;
  if (!SEMVER.test(v)) return { ok: false, message: ErrInvalidVersion, node: ver };
  if (!supported(v)) return { ok: false, message: ErrUnknownVersion, node: ver };
  return { ok: true, version: v, node: ver };
}
