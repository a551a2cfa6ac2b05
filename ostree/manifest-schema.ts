/**
 * The compose manifest's one definition: its JSON schema (ajv), from which the TypeScript types are derived
 * (`FromSchema` below) and `ostree/COMPOSE.md`'s key table is generated (`npm run docs`, checked by
 * test/unit/manifest-schema.test.ts). Each key's `description` is the documentation of that key.
 *
 * A key with a `default` is always present after validation (ajv's useDefaults fills it in), so its type is required;
 * a key without one is optional unless the schema lists it in `required`.
 */

export const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;

const pkgName = { type: 'string', pattern: '^[a-z0-9][a-z0-9+.-]+(:[a-z0-9]+)?(=[A-Za-z0-9.+~:-]+)?$' } as const;
const unitName = { type: 'string', pattern: '^[A-Za-z0-9:_.@\\\\-]+\\.(service|socket|timer|target|path|mount|automount|swap|slice|scope|device)$' } as const;
const dracutName = { type: 'string', pattern: '^[A-Za-z0-9_.-]+$' } as const;
const imagePath = { type: 'string', minLength: 1, description: 'a path relative to the manifest directory (and inside it)' } as const;
// The reference rules of ostree/k8s/oci.ts validateRef (what containerd and podman accept).
const refComp = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
/**
 * An apt mirror (or kubelet download) URL, anchored at both ends: one token of a one-line apt source, so no
 * whitespace (a newline would inject a source line without signed-by, a space an `[option]` token), no quotes, no
 * shell syntax. Brackets inside stay allowed (IPv6 hosts: http://[fd00::1]:3142/debian).
 */
const MIRROR_URL = '^(https?|file)://[^\\s\'"$`\\\\]+$';

/** A list that defaults to empty. */
function list<const I, const D extends string>(items: I, description: D) {
  return { type: 'array', items, default: [], description } as const;
}

/** A mapping of known keys that defaults to {} (so that its own keys' defaults are filled in too). */
function section<const P, const D extends string>(description: D, properties: P) {
  return { type: 'object', additionalProperties: false, default: {}, description, properties } as const;
}

/** A list of arguments (no default). */
function args<const D extends string>(description: D) {
  return { type: 'array', items: { type: 'string' }, description } as const;
}

export const MANIFEST_SCHEMA = {
  $id: 'https://fcos.invalid/manifest.json',
  type: 'object',
  additionalProperties: false,
  required: ['packages'],
  properties: {
    name: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]*$', default: 'fcos', description: 'OS name (os-release ID)' },
    'pretty-name': { type: 'string', minLength: 1, description: 'os-release PRETTY_NAME' },
    version: section('the version of each build', {
      major: { type: 'string', pattern: '^[A-Za-z0-9._-]+$', default: '13', description: 'the major version, e.g. "13" for trixie' },
      scheme: {
        type: 'string',
        pattern: '^[A-Za-z0-9._{}-]+$',
        default: '{major}.{date}.{serial}',
        description: 'template: {major}, {date} (YYYYMMDD of SOURCE_DATE_EPOCH, UTC), {serial} (0, 1, … among builds with the same prefix; required)',
      },
    }),
    ref: { type: 'string', pattern: '^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$', description: 'ostree ref; default: {name}/{suite}/x86_64/stable' },
    suite: { type: 'string', pattern: '^[a-z][a-z0-9-]*$', default: 'trixie', description: 'Debian suite' },
    architecture: { type: 'string', enum: ['amd64'], default: 'amd64', description: 'Debian architecture' },
    mirror: { type: 'string', pattern: MIRROR_URL, default: 'http://deb.debian.org/debian', description: 'Debian archive (http, https or file URL)' },
    'security-mirror': {
      type: 'string',
      pattern: `^(${MIRROR_URL.slice(1, -1)})?$`,
      default: 'http://deb.debian.org/debian-security',
      description: 'Debian security archive; "" disables it',
    },
    components: { type: 'array', items: { type: 'string', pattern: '^[a-z0-9-]+$' }, minItems: 1, default: ['main'], description: 'archive components' },
    updates: { type: 'boolean', default: true, description: 'also use <suite>-updates and <suite>-security' },
    variant: { type: 'string', enum: ['minbase', 'apt', 'essential', 'required'], default: 'minbase', description: 'mmdebstrap --variant' },
    packages: { type: 'array', items: pkgName, minItems: 1, description: 'Debian packages (name, name:arch or name=version), each once' },
    overlay: { type: 'string', minLength: 1, description: 'overlay directory, relative to the manifest directory (and inside it)' },
    units: section('systemd units, applied with the tree\'s systemctl and written to a preset', {
      enable: list(unitName, 'units to enable'),
      disable: list(unitName, 'units to disable'),
      mask: list(unitName, 'units to mask'),
    }),
    'kernel-arguments': { type: 'array', items: { type: 'string', pattern: '^[^\\s]+$' }, default: [], description: 'kernel arguments (not ostree=, which ostree sets)' },
    'image-size': { type: 'string', pattern: '^[1-9][0-9]*(M|G|MiB|GiB)$', default: '8G', description: 'disk image size, e.g. "8G" or "4096M"' },
    'source-date-epoch': {
      type: 'integer',
      minimum: 315532800,
      description: 'fixed SOURCE_DATE_EPOCH; default: $SOURCE_DATE_EPOCH, else the Date of the suite\'s InRelease',
    },
    initramfs: section('the dracut initramfs', {
      modules: list(dracutName, 'dracut modules to add (besides "ostree ignition")'),
      omit: list(dracutName, 'dracut modules to omit'),
      drivers: list(dracutName, 'kernel drivers to add (dracut --add-drivers)'),
      compress: { type: 'string', enum: ['zstd', 'gzip', 'xz', 'lz4', 'none'], default: 'zstd', description: 'compression (dracut --zstd, --gzip, …)' },
      args: list({ type: 'string', minLength: 1 }, 'extra dracut arguments, verbatim'),
    }),
    kubelet: section('the Kubernetes node payload', {
      enabled: { type: 'boolean', default: false, description: 'install kubelet, containerd and the CNI config (ostree/guest/overlay-k8s) and the preload images' },
      source: { type: 'string', enum: ['go-module', 'url'], description: 'where the binary comes from; default: url when url is given, else go-module' },
      version: { type: 'string', pattern: '^v1\\.[0-9]+\\.[0-9]+(-[0-9A-Za-z.-]+)?$', description: 'go-module: the k8s.io/kubernetes version to build (default DEFAULT_KUBELET_VERSION)' },
      url: { type: 'string', pattern: MIRROR_URL, description: 'url: file://, http:// or https:// of a kubelet binary (an official release); needs sha256' },
      sha256: { type: 'string', pattern: '^[0-9a-f]{64}$', description: 'url: the binary\'s sha256 (hex)' },
    }),
    upgrade: section('the in-image update agent (fcos-update, docs/upgrade.md); Ignition may override it with /etc/fcos/update.conf', {
      url: { type: 'string', pattern: '^https?://[^\\s\'"$`\\\\]+$', description: 'the ostree remote URL (`fcos serve` answers at http://HOST:PORT/repo); none: the agent does nothing until set' },
      strategy: {
        type: 'string',
        enum: ['immediate', 'periodic', 'etcd-lock', 'off'],
        default: 'immediate',
        description: 'immediate: reboot as soon as an update is staged; periodic: only inside the window; etcd-lock: one host (LOCK_SLOTS) of a group at a time, through the cluster\'s etcd (docs/upgrade.md, Fleet updates; the LOCK_* settings in /etc/fcos/update.conf); off: never by itself',
      },
      'check-interval-minutes': { type: 'integer', minimum: 1, maximum: 10080, default: 60, description: 'how often the timer checks (minutes)' },
      periodic: {
        type: 'object',
        additionalProperties: false,
        required: ['days', 'start', 'length-minutes'],
        description: 'the maintenance window of strategy periodic (and only of it)',
        properties: {
          days: { type: 'array', items: { type: 'string', enum: [...WEEKDAYS] }, minItems: 1, uniqueItems: true, description: 'days of the window (Mon … Sun)' },
          start: { type: 'string', pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'start time, HH:MM' },
          'length-minutes': { type: 'integer', minimum: 1, maximum: 1440, description: 'length of the window (minutes)' },
        },
      },
      'boot-tries': { type: 'integer', minimum: 1, maximum: 9, default: 3, description: 'boots a new deployment gets before GRUB falls back to the previous one' },
      'health-timeout-seconds': { type: 'integer', minimum: 5, maximum: 3600, default: 120, description: 'time-out of each health check (seconds)' },
    }),
    images: {
      type: 'array',
      description: 'container images preloaded into containerd (and podman) at first boot; needs kubelet.enabled',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'tag', 'from'],
        properties: {
          name: { type: 'string', pattern: `^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?${refComp}(?:/${refComp})*$`, description: 'repository name, e.g. "localhost/fcos/web"' },
          tag: { type: 'string', pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$', description: 'image tag' },
          from: {
            type: 'object',
            additionalProperties: false,
            minProperties: 1,
            maxProperties: 1,
            description: 'the image\'s source: exactly one of rootfs (a directory), tarball (.tar/.tar.gz), oci-archive',
            properties: { rootfs: imagePath, tarball: imagePath, 'oci-archive': imagePath },
          },
          entrypoint: args('the image\'s entrypoint'),
          cmd: args('the image\'s cmd'),
          env: {
            type: 'object',
            propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
            additionalProperties: { type: ['string', 'integer'] },
            description: 'environment: NAME → value',
          },
          ports: {
            type: 'array',
            items: { type: ['integer', 'string'], minimum: 1, maximum: 65535, pattern: '^[0-9]{1,5}(/(tcp|udp|sctp))?$' },
            description: 'exposed ports: 80, "80/tcp", "53/udp"',
          },
        },
      },
    },
  },
} as const;

// ---- The types, derived from MANIFEST_SCHEMA --------------------------------------------------------------------

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type Primitive<T> = T extends 'string' ? string : T extends 'integer' | 'number' ? number : T extends 'boolean' ? boolean : never;
type HasDefault<S> = S extends { readonly default: unknown } ? true : false;
/** An object schema's value: keys that are required or have a default are present, the others optional. */
type ObjectOf<P, R> = Simplify<
  { -readonly [K in keyof P as K extends R ? K : HasDefault<P[K]> extends true ? K : never]: FromSchema<P[K]> } & {
    -readonly [K in keyof P as K extends R ? never : HasDefault<P[K]> extends true ? never : K]?: FromSchema<P[K]>;
  }
>;

/** The validated value of a schema (the subset of JSON schema MANIFEST_SCHEMA uses), defaults filled in. */
export type FromSchema<S> = S extends { readonly enum: readonly (infer E)[] }
  ? E
  : S extends { readonly type: 'array'; readonly items: infer I }
    ? FromSchema<I>[]
    : S extends { readonly type: 'object'; readonly properties: infer P }
      ? ObjectOf<P, S extends { readonly required: readonly (infer R)[] } ? R : never>
      : S extends { readonly type: 'object'; readonly additionalProperties: infer A extends object }
        ? Record<string, FromSchema<A>>
        : S extends { readonly type: readonly (infer T)[] }
          ? Primitive<T>
          : S extends { readonly type: infer T }
            ? Primitive<T>
            : never;

type SchemaManifest = FromSchema<typeof MANIFEST_SCHEMA>;

/** A validated manifest. `ref` has no schema default (it is made from name and suite), but parseManifest sets it. */
export type Manifest = Simplify<Omit<SchemaManifest, 'ref'> & { ref: string }>;
export type InitramfsConfig = Manifest['initramfs'];
export type KubeletConfig = Manifest['kubelet'];
export type KubeletSource = NonNullable<KubeletConfig['source']>;
/** A container image to preload (`images:` in the manifest), turned into an OCI archive by compose. */
export type ImageSpec = NonNullable<Manifest['images']>[number];
export type ImageSourceKind = keyof ImageSpec['from'];
export type UpgradeConfig = Manifest['upgrade'];
export type UpgradeStrategy = UpgradeConfig['strategy'];
