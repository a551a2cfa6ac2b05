import { Flags } from '../oclif.js';
import { BaseCommand } from '../base.js';
import { buildsDir } from '../../lib/paths.js';
import { abortSignal } from '../../lib/signals.js';
import { startUpdateServer } from '../../ostree/updates/serve.js';
import { info } from '../../lib/log.js';

export default class Serve extends BaseCommand {
  static override summary = 'serve the builds directory over HTTP for host upgrades';
  static override description = 'The ostree repo (signed commits, static deltas) and the build index (/index.json); hosts upgrade from it with fcos-update.';
  static override flags = {
    builds: Flags.string({ description: 'builds directory (default ./builds or $FCOS_BUILDS_DIR)' }),
    // -p is --pretty elsewhere (butane, as in Butane); kept here for one release, with a warning.
    port: Flags.integer({ charAliases: ['p'], deprecateAliases: true, description: 'TCP port (0: a free one)', default: 8080, min: 0, max: 65535 }),
    host: Flags.string({ description: 'address to listen on (0.0.0.0: every interface; QEMU guests reach 127.0.0.1 as 10.0.2.2)', default: '127.0.0.1' }),
  };
  static override examples = [
    '<%= config.bin %> serve --builds /srv/builds --port 8080',
    '# in the image (or with Ignition, /etc/fcos/update.conf): URL=http://HOST:8080/repo',
  ];

  async run(): Promise<void> {
    const { flags } = await this.parse(Serve);
    const srv = await startUpdateServer({
      buildsDir: buildsDir(flags.builds),
      port: flags.port,
      host: flags.host,
      onRequest: (r) => info(`${r.method} ${r.path} ${r.status} ${r.bytes}`),
    });
    const ready = { url: srv.url, repo: srv.repoUrl, index: `${srv.url}/index.json`, port: srv.port, address: srv.address, listening: srv.listening };
    this.output(ready, (r) => `serving ${buildsDir(flags.builds)}\n  listening on ${r.listening}\n  remote url: ${r.repo}\n  index:      ${r.index}\nCtrl-C stops it.`);
    await new Promise<void>((res) => {
      if (abortSignal().aborted) return res();
      abortSignal().addEventListener('abort', () => res(), { once: true });
    });
    await srv.close();
    info(`served ${srv.stats.requests} files, ${srv.stats.bytes} bytes (delta ${srv.stats.deltaBytes}, objects ${srv.stats.objectBytes})`);
  }
}
