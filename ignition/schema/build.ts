/**
 * Builds the type tree of spec 3.<minor>.0. The differences between versions are spelled out here, field by field,
 * from the spec documents (docs/configuration-v3_X.md in coreos/ignition) and Ignition's generated types.
 */
import { arr, bool, int, obj, str, withRules, type GoType, type ObjT } from './types.js';

export function buildTree(minor: number): ObjT {
  const verification = obj('Verification', { hash: str() });
  const httpHeaders = arr(withRules(obj('HTTPHeader', { name: str(), value: str() }), ['name'], ['name']), 'types.HTTPHeaders');
  const resource = (legacyName: string): ObjT =>
    minor >= 1
      ? obj('Resource', { compression: str(), httpHeaders, source: str(), verification })
      : legacyName === 'FileContents'
        ? obj('FileContents', { compression: str(), source: str(), verification })
        : legacyName === 'CaReference'
          ? withRules(obj('CaReference', { source: str(), verification }), ['source'], ['source'])
          : withRules(obj(legacyName, { source: str(), verification }), [], ['source']);

  const ignitionFields: Record<string, GoType> = {
    config: obj('IgnitionConfig', { merge: arr(resource('ConfigReference')), replace: resource('ConfigReference') }),
  };
  if (minor >= 1) ignitionFields.proxy = obj('Proxy', { httpProxy: str(), httpsProxy: str(), noProxy: { ...arr(str('types.NoProxyItem')), nullItems: minor < 4 } });
  ignitionFields.security = obj('Security', { tls: obj('TLS', { certificateAuthorities: arr(resource('CaReference')) }) });
  ignitionFields.timeouts = obj('Timeouts', { httpResponseHeaders: int, httpTotal: int });
  ignitionFields.version = str();
  const ignition = withRules(obj('Ignition', ignitionFields), ['version'], minor >= 4 ? ['version'] : []);

  const nodeFields = (): Record<string, GoType> => ({
    group: obj('NodeGroup', { id: int, name: str() }),
    overwrite: bool,
    path: str(),
    user: obj('NodeUser', { id: int, name: str() }),
  });

  const partitionFields: Record<string, GoType> = { guid: str(), label: str(), number: int };
  if (minor >= 2) partitionFields.resize = bool;
  Object.assign(partitionFields, { shouldExist: bool, sizeMiB: int, startMiB: int, typeGuid: str(), wipePartitionEntry: bool });

  const filesystemFields: Record<string, GoType> = { device: str(), format: str(), label: str() };
  if (minor >= 1) filesystemFields.mountOptions = arr(str('types.MountOption'));
  Object.assign(filesystemFields, { options: arr(str('types.FilesystemOption')), path: str(), uuid: str(), wipeFilesystem: bool });

  const storage: Record<string, GoType> = {
    directories: arr(withRules(obj('Directory', { ...nodeFields(), mode: int }), ['path'], ['path'])),
    disks: arr(withRules(obj('Disk', { device: str(), partitions: arr(withRules(obj('Partition', partitionFields), ['number'])), wipeTable: bool }), ['device'], ['device'])),
    files: arr(withRules(obj('File', { ...nodeFields(), append: arr(resource('FileContents')), contents: resource('FileContents'), mode: int }), ['path'], ['path'])),
    filesystems: arr(withRules(obj('Filesystem', filesystemFields), ['device'], ['device'])),
    links: arr(withRules(obj('Link', { ...nodeFields(), hard: bool, target: str() }), minor >= 3 ? ['path'] : ['path', 'target'], minor >= 3 ? ['path'] : ['path', 'target'])),
  };
  if (minor >= 2) {
    const custom = withRules(obj(minor >= 3 ? 'ClevisCustom' : 'Custom', { config: str(), needsNetwork: bool, pin: str() }), minor >= 3 ? [] : ['config', 'pin']);
    const tang = withRules(obj('Tang', minor >= 4 ? { advertisement: str(), thumbprint: str(), url: str() } : { thumbprint: str(), url: str() }), ['url']);
    const luks: Record<string, GoType> = {};
    if (minor >= 5) luks.cex = obj('Cex', { enabled: bool });
    luks.clevis = obj('Clevis', { custom, tang: arr(tang), threshold: int, tpm2: bool });
    luks.device = str();
    if (minor >= 4) luks.discard = bool;
    Object.assign(luks, { keyFile: resource('Resource'), label: str(), name: str() });
    if (minor >= 4) luks.openOptions = arr(str('types.OpenOption'));
    Object.assign(luks, { options: arr(str('types.LuksOption')), uuid: str(), wipeVolume: bool });
    storage.luks = arr(withRules(obj('Luks', luks), ['name'], ['name']));
  }
  storage.raid = arr(
    withRules(obj('Raid', { devices: arr(str('types.Device')), level: str(), name: str(), options: arr(str('types.RaidOption')), spares: int }), minor >= 3 ? ['name'] : ['name', 'level'], minor >= 3 ? ['name'] : ['name', 'level', 'devices']),
  );

  const user: Record<string, GoType> = {
    gecos: str(),
    groups: arr(str('types.Group')),
    homeDir: str(),
    name: str(),
    noCreateHome: bool,
    noLogInit: bool,
    noUserGroup: bool,
    passwordHash: str(),
    primaryGroup: str(),
    sshAuthorizedKeys: arr(str('types.SSHAuthorizedKey')),
    shell: str(),
  };
  if (minor >= 2) user.shouldExist = bool;
  Object.assign(user, { system: bool, uid: int });
  const group: Record<string, GoType> = { gid: int, name: str(), passwordHash: str() };
  if (minor >= 2) group.shouldExist = bool;
  group.system = bool;

  const config: Record<string, GoType> = { ignition };
  if (minor >= 3) config.kernelArguments = obj('KernelArguments', { shouldExist: arr(str('types.KernelArgument')), shouldNotExist: arr(str('types.KernelArgument')) });
  config.passwd = obj('Passwd', { groups: arr(withRules(obj('PasswdGroup', group), ['name'], ['name'])), users: arr(withRules(obj('PasswdUser', user), ['name'], ['name'])) });
  config.storage = obj('Storage', storage);
  config.systemd = obj('Systemd', {
    units: arr(
      withRules(obj('Unit', { contents: str(), dropins: arr(withRules(obj('Dropin', { contents: str(), name: str() }), ['name'], ['name'])), enabled: bool, mask: bool, name: str() }), ['name'], ['name']),
    ),
  });
  return withRules(obj('Config', config), [], ['ignition']);
}
