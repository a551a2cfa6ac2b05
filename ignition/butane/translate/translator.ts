/**
 * The translation proper: snake_case → camelCase, inline/local contents → data URLs, contents_local, ssh keys files,
 * with_mount_unit units, quadlets and trees; and what the flatcar/r4e/fiot variants cannot do.
 */
import { posix } from 'node:path';
import { dataUrlEscape, makeDataUrl, type DataUrl } from '../dataurl.js';
import { confineIn, ERR_NO_FILES_DIR } from '../filesdir.js';
import { mergeConfigs } from '../merge.js';
import { markSource, markKey } from '../srcmap.js';
import { baseConfig, isList, isObj, restrict, yamlName, type FieldType } from '../schema.js';
import type { Ctx, Obj } from './ctx.js';

export class Translator {
  constructor(
    readonly ctx: Ctx,
    readonly minor: number,
    readonly ignitionVersion: string,
  ) {}

  private local(path: string, ref: string): Uint8Array | undefined {
    const fd = this.ctx.opts.filesDir;
    if (!fd) {
      this.ctx.error(path, ERR_NO_FILES_DIR);
      return undefined;
    }
    const c = confineIn(fd, ref);
    if ('error' in c) {
      this.ctx.error(path, c.error);
      return undefined;
    }
    try {
      return fd.read(c.rel);
    } catch (e) {
      this.ctx.error(path, (e as Error).message);
      return undefined;
    }
  }

  dataUrl(contents: Uint8Array, compression: string | undefined): DataUrl {
    // fcos 1.0 (base v0_1/translate.go:84): always the URL-escaped form, the compression left as the user set it.
    if (this.minor === 0) return { source: 'data:,' + dataUrlEscape(contents) };
    return makeDataUrl(contents, compression, !this.ctx.opts.noAutoCompression);
  }

  /** Generic snake→camel copy, with the Butane-only fields handled per type. */
  convert(t: FieldType, v: unknown, path: string): unknown {
    if (v === undefined) return undefined;
    if (isList(t)) return markSource((v as unknown[]).map((x, i) => this.convert(t.list, x, `${path}.${i}`)), path);
    if (!isObj(t)) return v;
    const o = v as Obj;
    const out: Obj = markSource({}, path);
    for (const fl of t.fields) {
      const k = yamlName(fl)!;
      if (fl.json === undefined || o[k] === undefined) continue;
      out[fl.json] = this.convert(fl.type, o[k], `${path}.${k}`);
    }
    switch (t.name) {
      case 'Resource': {
        const isConfig = path.startsWith('$.ignition.config.');
        for (const k of ['local', 'inline']) {
          if (o[k] === undefined) continue;
          markKey(out, 'source', `${path}.${k}`);
          // The compression comes from inline/local only when the user did not set one (MakeDataURL returns nil then).
          if (!o.compression) markKey(out, 'compression', `${path}.${k}`);
        }
        if (o.local !== undefined) {
          const data = this.local(`${path}.local`, String(o.local));
          if (data && isConfig) this.checkIgnitionConfig(`${path}.local`, data);
          if (data) this.setSource(out, data);
        }
        if (o.inline !== undefined) {
          const data = Buffer.from(String(o.inline), 'utf8');
          if (isConfig) this.checkIgnitionConfig(`${path}.inline`, data);
          this.setSource(out, data);
        }
        break;
      }
      case 'PasswdUser': {
        const files = o.ssh_authorized_keys_local as string[] | undefined;
        if (files && files.length > 0) {
          const keys = (out.sshAuthorizedKeys as string[] | undefined) ?? markSource([], `${path}.ssh_authorized_keys_local`);
          if (!this.ctx.opts.filesDir) this.ctx.error(`${path}.ssh_authorized_keys_local`, ERR_NO_FILES_DIR);
          else
            files.forEach((f, i) => {
              const data = this.local(`${path}.ssh_authorized_keys_local.${i}`, f);
              if (!data) return;
              for (const line of Buffer.from(data).toString('utf8').split(/\r?\n/)) {
                if (line === '') continue;
                markKey(keys, keys.length, `${path}.ssh_authorized_keys_local.${i}`);
                keys.push(line);
              }
            });
          if (keys.length > 0) out.sshAuthorizedKeys = keys;
        }
        break;
      }
      case 'Unit':
      case 'Dropin':
        if (o.contents_local !== undefined && o.contents_local !== '') {
          markKey(out, 'contents', `${path}.contents_local`);
          const data = this.local(`${path}.contents_local`, String(o.contents_local));
          if (data) out.contents = Buffer.from(data).toString('utf8');
        }
        break;
    }
    return out;
  }

  /** Butane's ValidateIgnitionConfig: a merged/replacing config of another spec version is only warned about. */
  private checkIgnitionConfig(path: string, data: Uint8Array): void {
    const validate = this.ctx.opts.validateIgnition;
    if (!validate) return;
    const text = Buffer.from(data).toString('utf8');
    let version: unknown;
    try {
      version = (JSON.parse(text) as { ignition?: { version?: unknown } })?.ignition?.version;
    } catch (e) {
      this.ctx.error(path, `config is not valid JSON: ${(e as Error).message}`);
      return;
    }
    if (version !== this.ignitionVersion) {
      this.ctx.warn(`${path}.version`, 'skipping validation for the merge/replace ignition config due to an unkown version');
      return;
    }
    for (const f of validate(text).findings) {
      this.ctx.add(f.severity, path, `${f.path && f.path !== '$' ? `${f.path}: ` : ''}${f.message}`);
    }
  }

  private setSource(out: Obj, data: Uint8Array): void {
    const d = this.dataUrl(data, out.compression as string | undefined);
    out.source = d.source;
    if (d.compression !== undefined) out.compression = d.compression;
  }

  base(cfg: Obj): Obj {
    const out = this.convert(restrict(baseConfig, this.minor, 'yaml'), cfg, '$') as Obj;
    out.ignition ??= markSource({}, '$.ignition');
    return out;
  }

  /** with_mount_unit: a .mount (or .swap) unit per filesystem, merged under the user's units. */
  mountUnits(cfg: Obj, out: Obj): Obj {
    const storage = (cfg.storage as Obj | undefined) ?? {};
    const fss = (storage.filesystems as Obj[] | undefined) ?? [];
    const luks = (storage.luks as Obj[] | undefined) ?? [];
    const units: Obj[] = markSource([], '$.storage.filesystems');
    for (const [i, fs] of fss.entries()) {
      if (fs.with_mount_unit !== true) continue;
      const device = String(fs.device ?? '');
      let remote = false;
      if (device.startsWith('/dev/mapper/') || device.startsWith('/dev/disk/by-id/dm-name-')) {
        for (const l of luks) {
          if (device === `/dev/mapper/${String(l.name)}` || device === `/dev/disk/by-id/dm-name-${String(l.name)}`) {
            if ((((l.clevis as Obj | undefined)?.tang as unknown[] | undefined) ?? []).length > 0) {
              remote = true;
              break;
            }
          }
        }
      }
      units.push(markSource(mountUnit(fs, remote), `$.storage.filesystems.${i}.with_mount_unit`, { whole: true }));
    }
    if (units.length === 0) return out;
    return mergeConfigs(markSource({ systemd: markSource({ units }, '$.storage.filesystems') }, '$'), out) as Obj;
  }

  /** systemd.quadlets (3.7.0-experimental): files under /etc/containers/systemd (rootful) or …/users. */
  quadlets(cfg: Obj, out: Obj): void {
    const qs = (((cfg.systemd as Obj | undefined) ?? {}).quadlets as Obj[] | undefined) ?? [];
    if (qs.length === 0) return;
    const { files, links, dirs } = storageNodes(out);
    qs.forEach((q, i) => {
      const ypath = `$.systemd.quadlets.${i}`;
      const name = String(q.name ?? '');
      const dest = `${q.rootful === true ? '/etc/containers/systemd' : '/etc/containers/systemd/users'}/${name}`;
      const taken = [...files, ...links, ...dirs].some((n) => n.path === dest);
      if (taken) {
        this.ctx.error(ypath, 'matching filesystem node has existing contents or different type');
        return;
      }
      const template = quadletTemplate(name);
      if (template) {
        links.push({ path: dest, target: template });
        return;
      }
      let data: Uint8Array | undefined;
      if (q.contents_local) data = this.local(`${ypath}.contents_local`, String(q.contents_local));
      if (q.contents) data = Buffer.from(String(q.contents), 'utf8');
      const file: Obj = { path: dest, contents: {} };
      files.push(file);
      if (data) this.setSource(file.contents as Obj, data);
    });
  }

  /** storage.trees: every regular file becomes a file (data URL, 0644/0755), every symlink a link. */
  trees(cfg: Obj, out: Obj): void {
    const trees = (((cfg.storage as Obj | undefined) ?? {}).trees as Obj[] | undefined) ?? [];
    if (trees.length === 0) return;
    const { storage, files, links, dirs } = storageNodes(out);
    if (dirs.length > 0) storage.directories = dirs;
    const exists = (p: string) => [...files, ...links, ...dirs].some((n) => n.path === p);
    const fd = this.ctx.opts.filesDir;
    for (let i = 0; i < trees.length; i++) {
      const tree = trees[i]!;
      const ypath = `$.storage.trees.${i}`;
      if (!fd) {
        this.ctx.error(ypath, ERR_NO_FILES_DIR);
        return;
      }
      const c = confineIn(fd, String(tree.local));
      if ('error' in c) {
        this.ctx.error(ypath, c.error);
        continue;
      }
      const kind = fd.kind(c.rel);
      if (kind === 'missing') {
        this.ctx.error(ypath, `stat ${String(tree.local)}: no such file or directory`);
        continue;
      }
      if (kind !== 'dir') {
        this.ctx.error(ypath, 'root of tree must be a directory');
        continue;
      }
      const destBase = tree.path ? String(tree.path) : '/';
      const hasOwner = Object.keys((tree.user as Obj | undefined) ?? {}).length > 0 || Object.keys((tree.group as Obj | undefined) ?? {}).length > 0;
      const owner = (p: string): Obj => ({ path: p, ...(tree.user ? { user: { ...(tree.user as Obj) } } : {}), ...(tree.group ? { group: { ...(tree.group as Obj) } } : {}) });
      /**
       * The config's node at dest in list (it may refine it) or a new one; undefined (with the error reported) when
       * the config's node already has contents, or another kind of node has that path.
       */
      const claim = (list: Obj[], dest: string, hasContents: (n: Obj) => boolean): Obj | undefined => {
        const found = list.find((n) => n.path === dest);
        if (found ? hasContents(found) : exists(dest)) {
          this.ctx.error(ypath, 'matching filesystem node has existing contents or different type');
          return undefined;
        }
        if (found) return found;
        const created = markSource(owner(dest), ypath, { whole: true });
        list.push(created);
        return created;
      };
      let entries: ReturnType<typeof fd.walk>;
      try {
        entries = fd.walk(c.rel);
      } catch (e) {
        this.ctx.error(ypath, (e as Error).message);
        continue;
      }
      for (const ent of entries) {
        const dest = joinPosix(destBase, ent.rel);
        if (ent.kind === 'dir') {
          // 3.7.0-experimental: ownership or dir_mode on a tree also creates its directories.
          if (tree.dir_mode === undefined && !hasOwner) continue;
          if (exists(dest)) {
            this.ctx.error(ypath, 'matching filesystem node has existing contents or different type');
            continue;
          }
          dirs.push(markSource({ ...owner(dest), mode: tree.dir_mode ?? 0o755 }, ypath, { whole: true }));
          storage.directories = dirs;
          continue;
        }
        if (ent.kind === 'file') {
          const file = claim(files, dest, (f) => Boolean((f.contents as Obj | undefined)?.source));
          if (!file) continue;
          let data: Uint8Array;
          try {
            data = fd.read(ent.rel === '' ? c.rel : c.rel ? `${c.rel}/${ent.rel}` : ent.rel);
          } catch (e) {
            this.ctx.error(ypath, (e as Error).message);
            continue;
          }
          const contents = ((file.contents as Obj | undefined) ?? (file.contents = {})) as Obj;
          this.setSource(contents, data);
          markSource(contents, ypath, { whole: true });
          if (file.mode === undefined) {
            file.mode = tree.file_mode ?? (ent.executable ? 0o755 : 0o644);
            markKey(file, 'mode', ypath);
          }
        } else if (ent.kind === 'symlink') {
          const link = claim(links, dest, (l) => Boolean(l.target));
          if (!link) continue;
          link.target = ent.target!.replace(/\\/g, '/');
          markKey(link, 'target', ypath);
        } else {
          this.ctx.error(ypath, 'trees may only contain files, directories, and symlinks');
        }
      }
    }
  }
}

/**
 * The output's storage with its files and links lists (created when absent) and its directories (a new list, not
 * attached, when absent): where quadlets and trees add their nodes.
 */
function storageNodes(out: Obj): { storage: Obj; files: Obj[]; links: Obj[]; dirs: Obj[] } {
  const storage = ((out.storage as Obj | undefined) ?? (out.storage = {})) as Obj;
  const files = ((storage.files as Obj[] | undefined) ?? (storage.files = [])) as Obj[];
  const links = ((storage.links as Obj[] | undefined) ?? (storage.links = [])) as Obj[];
  const dirs = (storage.directories as Obj[] | undefined) ?? [];
  return { storage, files, links, dirs };
}

/** Quadlet `foo@bar.container` → its template `foo@.container`; undefined when not a template instance. */
export function quadletTemplate(name: string): string | undefined {
  const at = name.indexOf('@');
  const dot = name.indexOf('.');
  if (at === -1 || at + 1 === dot) return undefined;
  return `${name.slice(0, at)}@.${name.slice(dot + 1)}`;
}

/**
 * Go's path.Join: the non-empty elements joined by '/', then cleaned. A relative tree `path` stays relative (the
 * generated config is then refused by Ignition's "path not absolute", as Butane does).
 */
function joinPosix(a: string, b: string): string {
  const joined = [a, b].filter((x) => x !== '').join('/');
  if (joined === '') return '';
  const norm = posix.normalize(joined);
  return norm.length > 1 && norm.endsWith('/') ? norm.slice(0, -1) : norm;
}

/** systemd's path escaping (go-systemd UnitNamePathEscape): "/var/lib/x-y" → "var-lib-x\x2dy". */
export function unitNamePathEscape(p: string): string {
  if (p === '/') return '-';
  const trimmed = p.replace(/\/+/g, '/').replace(/^\/|\/$/g, '');
  let out = '';
  const bytes = Buffer.from(trimmed, 'utf8');
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    const ch = String.fromCharCode(c);
    if (ch === '/') out += '-';
    else if (/[A-Za-z0-9:_]/.test(ch) || (ch === '.' && i > 0)) out += ch;
    else out += '\\x' + c.toString(16).padStart(2, '0');
  }
  return out;
}

/** The unit Butane generates for `with_mount_unit: true` (its mountUnitTemplate). */
export function mountUnit(fs: Obj, remote: boolean): Obj {
  const device = String(fs.device);
  const opts = ((fs.mount_options as string[] | undefined) ?? []).slice();
  if (remote) opts.push('_netdev');
  const options = opts.length > 0 ? `\nOptions=${opts.join(',')}` : '';
  if (fs.format === 'swap') {
    return {
      contents: `# Generated by Butane\n[Swap]\nWhat=${device}${options}\n\n[Install]\nRequiredBy=swap.target`,
      enabled: true,
      name: `${unitNamePathEscape(device)}.swap`,
    };
  }
  const esc = unitNamePathEscape(device);
  return {
    contents:
      `# Generated by Butane\n[Unit]\nRequires=systemd-fsck@${esc}.service\nAfter=systemd-fsck@${esc}.service\n\n` +
      `[Mount]\nWhere=${String(fs.path)}\nWhat=${device}\nType=${String(fs.format)}${options}\n\n` +
      `[Install]\nRequiredBy=${remote ? 'remote-fs.target' : 'local-fs.target'}`,
    enabled: true,
    name: `${unitNamePathEscape(String(fs.path))}.mount`,
  };
}

/** What flatcar, r4e and fiot cannot do (Butane's field filters and forbidden-field checks). */
export function variantRestrictions(ctx: Ctx, variant: string, version: string, out: Obj): void {
  const storage = (out.storage as Obj | undefined) ?? {};
  if (variant === 'flatcar' && version.endsWith('-experimental')) {
    ((storage.luks as Obj[] | undefined) ?? []).forEach((l, i) => {
      if (l.cex && Object.keys(l.cex as Obj).length > 0) ctx.error(`$.storage.luks.${i}.cex`, 'cex is not currently supported on the target platform');
    });
  }
  if (variant === 'flatcar' && !version.endsWith('-experimental')) {
    ((storage.luks as Obj[] | undefined) ?? []).forEach((l, i) => {
      if (l.clevis && Object.keys(l.clevis as Obj).length > 0) ctx.error(`$.storage.luks.${i}.clevis`, 'clevis is not supported in this spec version');
    });
  }
  if (variant === 'r4e' || variant === 'fiot') {
    // In the order Butane's field filters walk the output (Ignition's Go struct order: kernelArguments, then storage).
    const ka = (out.kernelArguments as Obj | undefined) ?? {};
    if (((ka.shouldExist as unknown[]) ?? []).length > 0 || ((ka.shouldNotExist as unknown[]) ?? []).length > 0) {
      ctx.error('$.kernel_arguments', 'kernel argument customization is not supported in this spec version');
    }
    const checks: [string, string][] = [
      ['disks', 'disk customization is not supported in this spec version'],
      ['filesystems', 'filesystem customization is not supported in this spec version'],
      ['luks', 'luks is not supported in this spec version'],
      ['raid', 'raid is not supported in this spec version'],
    ];
    for (const [k, msg] of checks) if (((storage[k] as unknown[] | undefined) ?? []).length > 0) ctx.error(`$.storage.${k}`, msg);
  }
}
