/**
 * The shape of Ignition configs (3.0–3.6) and of the Butane configs that translate to them.
 *
 * Written from the Ignition and Butane spec docs. Field order is the order Ignition's Go structs marshal in
 * (alphabetical per struct, the common Node fields first), so our output matches Butane's key order.
 * `since` is the Ignition 3.x minor version that introduced a field; Butane's base spec v0_N follows
 * Ignition 3.(N-1), so the same number gates the Butane spelling of the field.
 */

export type Scalar = 'string' | 'int' | 'bool';
export type FieldType = Scalar | ObjType | ListType | MapType;
export interface ListType {
  list: FieldType;
}
/** A mapping with free-form keys (MachineConfig labels). */
export interface MapType {
  map: Scalar;
}
export function isMap(t: FieldType): t is MapType {
  return typeof t === 'object' && 'map' in t;
}
export interface ObjType {
  /** Go-ish type name, used in messages ("cannot unmarshal !!str into Disk"). */
  name: string;
  fields: Field[];
}
export interface Field {
  /** JSON (Ignition) name; absent for Butane-only fields. */
  json?: string;
  /** YAML (Butane) name; absent for Ignition-only fields. Defaults to snake(json). */
  yaml?: string | null;
  type: FieldType;
  since?: number;
}

export function isList(t: FieldType): t is ListType {
  return typeof t === 'object' && 'list' in t;
}
export function isObj(t: FieldType): t is ObjType {
  return typeof t === 'object' && 'fields' in t;
}

/** camelCase → snake_case, as Butane's Snake() ("sizeMiB" → "size_mib"). */
export function snake(s: string): string {
  return s.replace(/(MiB|[A-Z])/g, '_$1').toLowerCase();
}

const S: Scalar = 'string';
const I: Scalar = 'int';
const B: Scalar = 'bool';
const f = (json: string, type: FieldType, since?: number): Field => ({ json, type, since });
const bf = (yaml: string, type: FieldType, since?: number): Field => ({ yaml, type, since });
const obj = (name: string, fields: Field[]): ObjType => ({ name, fields });
const list = (t: FieldType): ListType => ({ list: t });

const verification = obj('Verification', [f('hash', S)]);
const httpHeader = obj('HTTPHeader', [f('name', S), f('value', S)]);

/**
 * A resource. `since`: config references and CAs got compression in 3.1, and `inline` in Butane's base v0_2 (fcos
 * 1.1; v0_1's ConfigReference has only source and verification); file contents had both from the start.
 */
function resource(name: string, since: number): ObjType {
  return obj(name, [
    f('compression', S, since),
    f('httpHeaders', list(httpHeader), 1),
    f('source', S),
    f('verification', verification),
    bf('inline', S, since),
    bf('local', S, 1),
  ]);
}
const fileResource = resource('Resource', 0);
const configResource = resource('Resource', 1);

const nodeUser = obj('NodeUser', [f('id', I), f('name', S)]);
const nodeGroup = obj('NodeGroup', [f('id', I), f('name', S)]);
const node = (): Field[] => [f('group', nodeGroup), f('overwrite', B), f('path', S), f('user', nodeUser)];

const ignition = obj('Ignition', [
  f('config', obj('IgnitionConfig', [f('merge', list(configResource)), f('replace', configResource)])),
  f('proxy', obj('Proxy', [f('httpProxy', S), f('httpsProxy', S), f('noProxy', list(S))]), 1),
  f('security', obj('Security', [f('tls', obj('TLS', [f('certificateAuthorities', list(configResource))]))])),
  f('timeouts', obj('Timeouts', [f('httpResponseHeaders', I), f('httpTotal', I)])),
  { json: 'version', yaml: null, type: S },
]);

const passwd = obj('Passwd', [
  f('groups', list(obj('PasswdGroup', [f('gid', I), f('name', S), f('passwordHash', S), f('shouldExist', B, 2), f('system', B)]))),
  f(
    'users',
    list(
      obj('PasswdUser', [
        f('gecos', S),
        f('groups', list(S)),
        f('homeDir', S),
        f('name', S),
        f('noCreateHome', B),
        f('noLogInit', B),
        f('noUserGroup', B),
        f('passwordHash', S),
        f('primaryGroup', S),
        f('shell', S),
        f('shouldExist', B, 2),
        f('sshAuthorizedKeys', list(S)),
        bf('ssh_authorized_keys_local', list(S), 4),
        f('system', B),
        f('uid', I),
      ]),
    ),
  ),
]);

const partition = obj('Partition', [
  f('guid', S),
  f('label', S),
  f('number', I),
  f('resize', B, 2),
  f('shouldExist', B),
  f('sizeMiB', I),
  f('startMiB', I),
  f('typeGuid', S),
  f('wipePartitionEntry', B),
]);

const luks = obj('Luks', [
  f('cex', obj('Cex', [f('enabled', B)]), 5),
  f(
    'clevis',
    obj('Clevis', [
      f('custom', obj('ClevisCustom', [f('config', S), f('needsNetwork', B), f('pin', S)])),
      f('tang', list(obj('Tang', [f('advertisement', S, 4), f('thumbprint', S), f('url', S)]))),
      f('threshold', I),
      f('tpm2', B),
    ]),
  ),
  f('device', S),
  f('discard', B, 4),
  f('keyFile', fileResource),
  f('label', S),
  f('name', S),
  f('openOptions', list(S), 4),
  f('options', list(S)),
  f('uuid', S),
  f('wipeVolume', B),
]);

const storage = obj('Storage', [
  f('directories', list(obj('Directory', [...node(), f('mode', I)]))),
  f('disks', list(obj('Disk', [f('device', S), f('partitions', list(partition)), f('wipeTable', B)]))),
  f('files', list(obj('File', [...node(), f('append', list(fileResource)), f('contents', fileResource), f('mode', I)]))),
  f(
    'filesystems',
    list(
      obj('Filesystem', [
        f('device', S),
        f('format', S),
        f('label', S),
        f('mountOptions', list(S), 1),
        f('options', list(S)),
        f('path', S),
        f('uuid', S),
        f('wipeFilesystem', B),
        bf('with_mount_unit', B, 1),
      ]),
    ),
  ),
  f('links', list(obj('Link', [...node(), f('hard', B), f('target', S)]))),
  f('luks', list(luks), 2),
  f('raid', list(obj('Raid', [f('devices', list(S)), f('level', S), f('name', S), f('options', list(S)), f('spares', I)]))),
  bf(
    'trees',
    list(obj('Tree', [bf('group', nodeGroup, 7), bf('local', S), bf('path', S), bf('user', nodeUser, 7), bf('file_mode', I, 7), bf('dir_mode', I, 7)])),
    1,
  ),
]);

const systemd = obj('Systemd', [
  f(
    'units',
    list(
      obj('Unit', [
        f('contents', S),
        bf('contents_local', S, 4),
        f('dropins', list(obj('Dropin', [f('contents', S), bf('contents_local', S, 4), f('name', S)]))),
        f('enabled', B),
        f('mask', B),
        f('name', S),
      ]),
    ),
  ),
  // 3.7.0-experimental (fcos 1.8.0-experimental): podman quadlets, written to /etc/containers/systemd[/users].
  bf('quadlets', list(obj('Quadlet', [bf('contents', S), bf('contents_local', S), bf('name', S), bf('rootful', B)])), 7),
]);

/** The base (variant-independent) config. */
export const baseConfig = obj('Config', [
  bf('variant', S),
  bf('version', S),
  f('ignition', ignition),
  f('kernelArguments', obj('KernelArguments', [f('shouldExist', list(S)), f('shouldNotExist', list(S))]), 3),
  f('passwd', passwd),
  f('storage', storage),
  f('systemd', systemd),
]);

/** fcos sugar: boot_device (fcos 1.3+) and grub (fcos 1.5+). `since` here is the fcos 1.x minor version. */
export function fcosFields(fcosMinor: number): Field[] {
  const out: Field[] = [];
  if (fcosMinor >= 3) {
    const tang: Field[] = [bf('url', S), bf('thumbprint', S)];
    if (fcosMinor >= 5) tang.push(bf('advertisement', S));
    const luksFields: Field[] = [bf('tang', list(obj('Tang', tang))), bf('threshold', I), bf('tpm2', B)];
    if (fcosMinor >= 5) luksFields.push(bf('discard', B));
    if (fcosMinor >= 6) luksFields.push(bf('device', S), bf('cex', obj('Cex', [bf('enabled', B)])));
    out.push(
      bf(
        'boot_device',
        obj('BootDevice', [bf('layout', S), bf('luks', obj('BootDeviceLuks', luksFields)), bf('mirror', obj('BootDeviceMirror', [bf('devices', list(S))]))]),
      ),
    );
  }
  if (fcosMinor >= 5) out.push(bf('grub', obj('Grub', [bf('users', list(obj('GrubUser', [bf('name', S), bf('password_hash', S)])))])));
  return out;
}

/** openshift: MachineConfig metadata and the MachineConfig-only spec fields. */
export function openshiftFields(): Field[] {
  return [
    bf('metadata', obj('Metadata', [bf('name', S), bf('labels', { map: S })])),
    bf('openshift', obj('OpenShift', [bf('kernel_arguments', list(S)), bf('extensions', list(S)), bf('fips', B), bf('kernel_type', S)])),
  ];
}

/** The YAML name of a field, or undefined for Ignition-only fields. */
export function yamlName(fl: Field): string | undefined {
  if (fl.yaml === null) return undefined;
  return fl.yaml ?? snake(fl.json!);
}

/** Restrict a type to what an Ignition 3.minor spec has (for the Butane side, also drops Ignition-only fields). */
export function restrict(t: ObjType, minor: number, side: 'yaml' | 'json'): ObjType {
  const fields: Field[] = [];
  for (const fl of t.fields) {
    if (fl.since !== undefined && fl.since > minor) continue;
    if (side === 'json' && fl.json === undefined) continue;
    if (side === 'yaml' && yamlName(fl) === undefined) continue;
    fields.push({ ...fl, type: restrictType(fl.type, minor, side) });
  }
  return { name: t.name, fields };
}
function restrictType(t: FieldType, minor: number, side: 'yaml' | 'json'): FieldType {
  if (isList(t)) return { list: restrictType(t.list, minor, side) };
  if (isObj(t)) return restrict(t, minor, side);
  return t;
}

/** The Ignition config type of spec 3.minor (used to order and prune output). */
export function ignitionType(minor: number): ObjType {
  return restrict(baseConfig, minor, 'json');
}
