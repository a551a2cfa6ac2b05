/** Ignition's error and warning messages, worded exactly as in config/shared/errors/errors.go. */
export const E = {
  Duplicate: 'duplicate entry defined',
  CompressionInvalid: 'invalid compression method',
  FileUsedSymlink: 'file path includes link in config',
  DirectoryUsedSymlink: 'directory path includes link in config',
  LinkUsedSymlink: 'link path includes link in config',
  LinkTargetRequired: 'link target is required',
  HardLinkToDirectory: 'hard link target is a directory',
  HardLinkSpecifiesOwner: 'user/group ignored for hard link',
  DiskDeviceRequired: 'disk device is required',
  PartitionNumbersCollide: 'partition numbers collide',
  PartitionsOverlap: 'partitions overlap',
  OverwriteAndNilSource: 'overwrite must be false if source is unspecified',
  VerificationAndNilSource: 'source must be specified if verification is specified',
  FilesystemInvalidFormat: 'invalid filesystem format',
  LabelNeedsFormat: 'filesystem must specify format if label is specified',
  FormatNilWithOthers: 'format cannot be empty when path, label, uuid, wipeFilesystem, options, or mountOptions is specified',
  Ext4LabelTooLong: 'filesystem labels cannot be longer than 16 characters when using ext4',
  BtrfsLabelTooLong: 'filesystem labels cannot be longer than 256 characters when using btrfs',
  XfsLabelTooLong: 'filesystem labels cannot be longer than 12 characters when using xfs',
  SwapLabelTooLong: 'filesystem labels cannot be longer than 15 characters when using swap',
  VfatLabelTooLong: 'filesystem labels cannot be longer than 11 characters when using vfat',
  LuksLabelTooLong: 'luks device labels cannot be longer than 47 characters',
  LuksNameContainsSlash: 'device names cannot contain slashes',
  InvalidLuksKeyFile: 'invalid key-file source',
  ClevisPinRequired: 'missing required custom clevis pin',
  UnknownClevisPin: 'unsupported clevis pin',
  ClevisConfigRequired: 'missing required custom clevis config',
  ClevisCustomWithOthers: 'cannot use custom clevis config with tpm2, tang, or threshold',
  CexWithClevis: 'cannot use cex with clevis',
  CexWithKeyFile: 'cannot use key file with cex',
  TangThumbprintRequired: 'thumbprint is required',
  InvalidTangAdvertisement: 'advertisement is not valid JSON',
  FileIllegalMode: 'illegal file mode',
  ModeSpecialBits: 'setuid/setgid/sticky bits are not supported or functional in spec versions older than 3.6.0',
  BothIDAndNameSet: 'cannot set both id and name',
  LabelTooLong: 'partition labels may not exceed 36 characters',
  DoesntMatchGUIDRegex: 'doesn\'t match the form "01234567-89AB-CDEF-EDCB-A98765432101"',
  LabelContainsColon: 'partition label will be truncated to text before the colon',
  NoPath: 'path not specified',
  PathRelative: 'path not absolute',
  DirtyPath: 'path is not fully simplified',
  PartitionsOverwritten: 'filesystem overwrites partitioned device',
  FilesystemImplicitWipe: 'device matches disk with wipeTable enabled; filesystem will be wiped',
  RaidLevelRequired: 'raid level is required',
  SparesUnsupportedForLevel: 'spares unsupported for linear and raid0 arrays',
  UnrecognizedRaidLevel: 'unrecognized raid level',
  RaidDevicesRequired: 'raid devices required',
  ShouldNotExistWithOthers: 'shouldExist specified false with other options also specified',
  ZeroesWithShouldNotExist: 'shouldExist is false for a partition and other partition(s) has start or size 0',
  NeedLabelOrNumber: 'a partition number >= 1 or a label must be specified',
  DuplicateLabels: 'cannot use the same partition label twice',
  InvalidProxy: 'proxies must be http(s)',
  InsecureProxy: 'insecure plaintext HTTP proxy specified for HTTPS resources',
  PathConflictsSystemd: 'path conflicts with systemd unit or dropin',
  InvalidSystemdExt: 'invalid systemd unit extension',
  InvalidSystemdDropinExt: 'invalid systemd drop-in extension',
  SourceRequired: 'source is required',
  InvalidScheme: 'invalid url scheme',
  InvalidUrl: 'unable to parse url',
  InvalidHTTPHeader: 'unable to parse HTTP header',
  EmptyHTTPHeaderName: "HTTP header name can't be empty",
  UnsupportedSchemeForHTTPHeaders: 'cannot use HTTP headers with this source scheme',
  HashMalformed: 'malformed hash specifier',
  HashWrongSize: 'incorrect size for hash sum',
  HashUnrecognized: 'unrecognized hash function',
  InvalidS3ARN: 'invalid S3 ARN format',
  InvalidS3ObjectVersionId: 'invalid S3 object VersionId',
} as const;

export const noInstallSection = (name: string): string => `unit ${goQuote(name)} is enabled, but has no install section so enable does nothing`;

export const noInstallSectionForTemplate = (template: string, instance: string): string =>
  `template unit ${goQuote(template)} for ${goQuote(instance)} doesn't have Install section`;

/** Go's %q for a string. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c === 0x07) out += '\\a';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c === 0x0b) out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else if (c === 0xfffd) out += '\\ufffd';
    else out += ch;
  }
  return out + '"';
}
