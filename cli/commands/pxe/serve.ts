import { Flags } from '../../oclif.js';
import { BaseCommand } from '../../base.js';
import { buildsDir } from '../../../lib/paths.js';
import { startPxeServer } from '../../../images/pxe-serve.js';
import { abortSignal } from '../../../lib/signals.js';

export default class PxeServe extends BaseCommand {
  static override summary = 'serve a build over HTTP for network boot (PXE)';
  static override description =
    'The PXE artifacts, per-machine iPXE scripts and validated Ignition configs (by MAC, with a default); see docs/pxe.md.';
  static override flags = {
    builds: Flags.string({ description: 'builds directory (default ./builds)' }),
    build: Flags.string({ description: 'build id (default: latest)' }),
    ignition: Flags.string({ char: 'i', description: 'Ignition (.ign) or Butane (.bu) config for every machine' }),
    'ignition-dir': Flags.string({ description: 'per-machine configs: <mac>.ign|.bu and <mac>.kargs (mac as 52-54-00-12-34-56), default.ign|.bu|.kargs' }),
    // The names of fcos serve; --http-port and --listen are kept for one release, with a warning.
    port: Flags.integer({ aliases: ['http-port'], deprecateAliases: true, description: 'TCP port (0: a free one)', default: 8080 }),
    host: Flags.string({
      aliases: ['listen'],
      deprecateAliases: true,
      description: 'address to listen on (QEMU guests reach 127.0.0.1 as 10.0.2.2; 0.0.0.0: every interface)',
      default: '127.0.0.1',
    }),
    allow: Flags.string({ description: 'answer only clients in this network (CIDR or address; repeatable), e.g. the provisioning subnet', multiple: true }),
    'require-token': Flags.boolean({
      description: "configs need the machine's token from its iPXE script (default: on when listening on a non-loopback address)",
      allowNo: true,
    }),
    'token-secret': Flags.string({ description: 'file with the token secret, made 0600 when missing (default BUILDS/keys/pxe-token.key)' }),
    'advertise-url': Flags.string({ description: 'the URL machines reach this server at (default http://10.0.2.2:PORT, QEMU user networking)' }),
    tftp: Flags.string({ description: 'write boot.ipxe (chaining to the HTTP server) into this TFTP root (QEMU tftp=, dnsmasq tftp-root)' }),
    'install-dev': Flags.string({ description: 'machines without their own kargs install to this disk (e.g. /dev/vda) instead of running live' }),
    karg: Flags.string({ description: 'extra kernel argument for every machine', multiple: true }),
  };
  static override examples = [
    '<%= config.bin %> pxe serve --ignition examples/config.ign',
    '<%= config.bin %> pxe serve --ignition-dir machines/ --install-dev /dev/sda --host 192.0.2.10 --allow 192.0.2.0/24 --advertise-url http://192.0.2.10:8080 --tftp /srv/tftp',
  ];

  async run(): Promise<void> {
    const { flags } = await this.parse(PxeServe);
    const s = await startPxeServer({
      buildsDir: buildsDir(flags.builds),
      build: flags.build,
      ignition: flags.ignition,
      ignitionDir: flags['ignition-dir'],
      port: flags.port,
      listen: flags.host,
      allow: flags.allow,
      requireToken: flags['require-token'],
      tokenSecretFile: flags['token-secret'],
      advertiseUrl: flags['advertise-url'],
      tftpDir: flags.tftp,
      installDev: flags['install-dev'],
      kargs: flags.karg,
      log: (l) => process.stderr.write(l + '\n'),
    });
    const ready = { url: s.url, address: s.address, listening: s.listening, advertiseUrl: s.advertiseUrl, port: s.port, build: s.buildDir, requireToken: s.requireToken, allow: s.allow };
    this.output(ready, (r) =>
      [
        `serving ${r.build}`,
        `listening on ${r.listening}; machines chain to ${r.advertiseUrl}/boot.ipxe`,
        r.requireToken ? "configs need the machine's token (in its iPXE script's config URL)" : '',
        r.allow.length ? `clients: ${r.allow.join(', ')}` : '',
      ]
        .filter(Boolean)
        .join('\n'),
    );
    // Run until interrupted.
    await new Promise<void>((ok) => abortSignal().addEventListener('abort', () => ok(), { once: true }));
    await s.close();
  }
}
