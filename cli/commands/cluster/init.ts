import { Flags } from '../../oclif.js';
import { BaseCommand } from '../../base.js';
import { initCluster, DEFAULT_NAME, DEFAULT_SUBNET, type InitResult } from '../../../qemu/cluster/init.js';
import { DEFAULT_LOCK_GROUP, DEFAULT_LOCK_SLOTS, DEFAULT_LOCK_TTL, UPDATE_STRATEGIES, describeUpdates } from '../../../qemu/cluster/updates.js';

export default class ClusterInit extends BaseCommand {
  static override summary = 'make the CA, keys and configs of a TLS etcd cluster';
  static override description = 'A CA, per-node certificates, one Butane and Ignition config per node (with the update agent\'s /etc/fcos/update.conf) and an etcdctl env file, in the cluster directory.';
  static override flags = {
    nodes: Flags.integer({ char: 'n', description: 'number of nodes (3 or 5 for etcd)', required: true }),
    name: Flags.string({ description: `cluster name; nodes are NAME-1, NAME-2, ... (default ${DEFAULT_NAME})` }),
    subnet: Flags.string({ description: `private network of the nodes, IPv4 CIDR; node i gets .(10+i) (default ${DEFAULT_SUBNET})` }),
    // -o is --output elsewhere (butane, as in Butane); kept here for one release, with a warning.
    out: Flags.string({ charAliases: ['o'], deprecateAliases: true, description: 'cluster directory (default ./NAME)' }),
    'ssh-key': Flags.string({ description: 'SSH public key for user core (one line)', exclusive: ['ssh-key-file'] }),
    'ssh-key-file': Flags.string({ description: 'file with SSH public keys for user core', exclusive: ['ssh-key'] }),
    force: Flags.boolean({ description: 'new CA, keys and configs; the old ones are moved aside to DIR/old-<time>/', default: false }),
    // The update flags: each one not given keeps the value of the previous init (or the default).
    'update-strategy': Flags.string({ description: 'the nodes\' update strategy (default etcd-lock: one reboot at a time per group, through etcd)', options: [...UPDATE_STRATEGIES] }),
    'update-url': Flags.string({ description: 'the fcos serve URL the nodes update from, e.g. http://10.0.2.2:8080/repo ("" removes it; none: no URL is written)' }),
    'lock-slots': Flags.integer({ description: `etcd-lock: nodes of a group that may reboot at once (default ${DEFAULT_LOCK_SLOTS})` }),
    'lock-ttl': Flags.integer({ description: `etcd-lock: seconds a held slot outlives its holder (default ${DEFAULT_LOCK_TTL})` }),
    'lock-group': Flags.string({ description: `etcd-lock: the group of every node not in --groups (default ${DEFAULT_LOCK_GROUP})` }),
    groups: Flags.string({ description: 'etcd-lock: per-node groups, "GROUP=NODE,NODE;GROUP2=NODE"' }),
    'update-window': Flags.string({ description: 'periodic: the reboot window, "DAYS START MINUTES", e.g. "Sat,Sun 02:30 90"' }),
  };
  static override examples = ['<%= config.bin %> cluster init --nodes 3 --out mycluster', '<%= config.bin %> cluster init -n 3 --ssh-key-file ~/.ssh/id_ed25519.pub', '<%= config.bin %> cluster init -n 3 --out mycluster --update-url http://10.0.2.2:8080/repo --lock-slots 1'];

  async run(): Promise<void> {
    const { flags } = await this.parse(ClusterInit);
    const r = await initCluster({ nodes: flags.nodes, name: flags.name, subnet: flags.subnet, out: flags.out, sshKey: flags['ssh-key'], sshKeyFile: flags['ssh-key-file'], force: flags.force,
      updateStrategy: flags['update-strategy'], updateUrl: flags['update-url'], lockSlots: flags['lock-slots'], lockTtl: flags['lock-ttl'], lockGroup: flags['lock-group'], groups: flags.groups, updateWindow: flags['update-window'],
    });
    this.output(r, (x: InitResult) =>
      [
        `cluster ${x.name} in ${x.dir} (${x.subnet})`,
        ...x.nodes.map((n) => `  ${n.name}  ${n.ip}  ${n.ignition}`),
        `CA: ${x.ca.cert}${x.ca.reused ? ' (reused)' : ' (new)'}`,
        x.newKeys.length ? `new keys: ${x.newKeys.length}` : '',
        x.keptKeys.length ? `kept keys: ${x.keptKeys.length}` : '',
        x.movedAside ? `previous keys and configs moved to ${x.movedAside}` : '',
        `updates: ${describeUpdates(x.updates)}`,
        `etcdctl: set -a; . ${x.etcdctlEnv}; set +a`,
        `next: fcos cluster up ${x.dir}`,
      ]
        .filter(Boolean)
        .join('\n'),
    );
  }
}
