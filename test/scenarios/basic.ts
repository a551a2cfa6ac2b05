/**
 * Scenario `basic` (issue #4 acceptance): one image build, three boots.
 *   boot 1 (first boot, Ignition): hostname, a file with contents/mode/owner, user core with the run's SSH key,
 *          a file fetched from a host HTTP server with its sha512 verified, a config unit that ran, /usr read-only,
 *          one booted ostree deployment, etcdctl put/get, podman run of a locally made image; then /etc and /var
 *          changes are made.
 *   boot 2 (reboot of the same VM): Ignition did not run again, the ConditionFirstBoot unit ran once, the /etc and
 *          /var changes persisted.
 *   boot 3 (a second VM, the same config with a wrong sha512): first boot must fail visibly on the console.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IgnitionConfig, Scenario } from '../../qemu/harness.js';
import { VmError } from '../../qemu/vm.js';
import { bootedDeployments } from './ostree-status.js';
import { guestFile, guestScript } from './guest.js';
import { CheckError } from '../../lib/errors.js';

const HOSTNAME = 'fcos-basic';
const HELLO = 'hello from fcos basic\n';
const FETCHED = '/var/lib/fcos-test/fetched.bin';

function dataUrl(s: string): string {
  return `data:,${encodeURIComponent(s)}`;
}

export function basicConfig(fetchUrl: string, sha512: string): IgnitionConfig {
  return {
    ignition: { version: '3.3.0' },
    storage: {
      files: [
        { path: '/etc/hostname', mode: 0o644, overwrite: true, contents: { source: dataUrl(HOSTNAME + '\n') } },
        { path: '/etc/fcos-test/hello.txt', mode: 0o640, user: { name: 'core' }, group: { name: 'root' }, contents: { source: dataUrl(HELLO) } },
        { path: FETCHED, mode: 0o644, contents: { source: fetchUrl, verification: { hash: `sha512-${sha512}` } } },
      ],
    },
    systemd: {
      units: [
        { name: 'fcos-test-ran.service', enabled: true, contents: guestFile('basic-ran.service') },
        { name: 'fcos-test-firstboot.service', enabled: true, contents: guestFile('basic-firstboot.service') },
        // etcd ships disabled (like FCOS, where users enable it from their config).
        { name: 'etcd.service', enabled: true },
      ],
    },
  };
}

/** Ignition's console line for a file whose content does not match the config's hash (expected = the config's). */
export const HASH_ERROR = (expectedHex: string) => new RegExp(`hash verification failed \\(calculated \\S+ but expected \\S*${expectedHex.slice(0, 32)}`);

/** What ignition() hands to run(): the served payload's URL and its sha512. */
interface BasicState {
  served?: { url: string; sha512: string };
}

export const basic: Scenario<BasicState> = {
  name: 'basic',
  description: 'first boot with Ignition, checks over SSH, reboot without Ignition, a wrong hash fails visibly',
  needs: { image: 'fcos' },
  boots: 3,
  timeoutMin: 30,
  state: () => ({}),
  async ignition(ctx) {
    const payload = randomBytes(64 * 1024);
    const srv = await ctx.serve({ 'payload.bin': payload });
    const served = (ctx.state.served = { url: srv.url('payload.bin'), sha512: createHash('sha512').update(payload).digest('hex') });
    return basicConfig(served.url, served.sha512);
  },
  async run(ctx) {
    const vm = ctx.vm;
    const st = ctx.state.served!;
    const eq = async (cmd: string, want: string) => {
      const got = (await vm.sshOk(cmd)).trim();
      if (got !== want) throw new CheckError(`${cmd}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
      return got;
    };
    // ---- boot 1
    await ctx.check('hostname from the config', () => eq('hostname', HOSTNAME));
    await ctx.check('file with contents, mode and owner', async () => {
      await eq('stat -c "%a %U %G" /etc/fcos-test/hello.txt', '640 core root');
      await eq('sudo cat /etc/fcos-test/hello.txt', HELLO.trim());
    });
    await ctx.check('user core has the SSH key from the config', async () => {
      await vm.sshOk('getent passwd core');
      // authorized_keys (Debian) or authorized_keys.d/ignition (FCOS): whichever exists.
      const keys = await vm.sshOk(`cat ~/.ssh/authorized_keys ~/.ssh/authorized_keys.d/* 2>/dev/null; true`);
      if (!keys.includes(ctx.sshPubKey.split(' ')[1]!)) throw new CheckError('the key is not in authorized_keys(.d)');
      return 'logged in with the per-run key';
    });
    await ctx.check('file fetched from the host over HTTP, sha512 verified', () => eq(`sha512sum ${FETCHED} | cut -d' ' -f1`, st.sha512));
    await ctx.check('systemd unit from the config ran', async () => {
      await eq('systemctl is-active fcos-test-ran.service', 'active');
      await eq('cat /var/lib/fcos-test/unit-ran', 'ran');
    });
    await ctx.check('/usr is read-only', async () => {
      const r = await vm.sshFails('sudo touch /usr/.fcos-rw-test');
      if (!/read-only/i.test(r.stderr)) throw new CheckError(`touch /usr failed, but not read-only: ${r.stderr.trim()}`);
      return r.stderr.trim();
    });
    await ctx.check('ostree admin status shows one booted deployment', async () => {
      const out = await vm.sshOk('sudo ostree admin status');
      // Every deployment, not only the `* ` line (there is always exactly one of those on an ostree system).
      const d = bootedDeployments(out);
      if (d.all.length !== 1 || !d.booted) throw new CheckError(`expected exactly one deployment, and it booted:\n${out}`);
      return `${d.booted.stateroot} ${d.booted.checksum.slice(0, 12)}.${d.booted.serial}`;
    });
    await ctx.check('etcdctl put/get', async () => {
      // etcd may still be starting under TCG: wait for it to answer (up to 2 minutes).
      await vm.sshOk('for i in $(seq 1 60); do etcdctl endpoint health >/dev/null 2>&1 && break; sleep 2; done; etcdctl put fcos-k v1', { timeoutMs: 180_000 });
      return eq('etcdctl get fcos-k --print-value-only', 'v1');
    });
    await ctx.check('podman runs an image made in the test', () => eq(guestScript('podman-hello.sh'), 'hello-from-podman'));
    await ctx.check('make /etc and /var changes', async () => {
      await vm.sshOk('set -e; echo etc-kept | sudo tee /etc/fcos-persist >/dev/null; echo var-kept | sudo tee /var/lib/fcos-persist >/dev/null; sync');
    });

    // ---- boot 2
    const firstBoot = await vm.bootId();
    const rebooted = await ctx.check('reboot', async () => {
      // A clean power cycle (see Vm.reboot: a warm reset under TCG boots ~2x slower).
      const id = await vm.reboot(8 * 60_000, { cold: true });
      if (id === firstBoot) throw new CheckError('boot_id unchanged');
      return `boot_id ${firstBoot.slice(0, 8)} -> ${id.slice(0, 8)}`;
    });
    if (rebooted) {
      await ctx.check('Ignition did not run on the second boot', async () => {
        const cmdline = await vm.sshOk('cat /proc/cmdline');
        if (/\bignition\.firstboot\b/.test(cmdline)) throw new CheckError(`ignition.firstboot on the kernel command line: ${cmdline.trim()}`);
        const j = await vm.sshOk('sudo journalctl -b -t ignition --no-pager -q -o cat');
        if (j.trim()) throw new CheckError(`Ignition logged on this boot:\n${j.split('\n').slice(0, 5).join('\n')}`);
        await eq('wc -l < /var/lib/fcos-test/firstboot.log', '1');
      });
      await ctx.check('/etc and /var changes persisted', async () => {
        await eq('cat /etc/fcos-persist', 'etc-kept');
        await eq('cat /var/lib/fcos-persist', 'var-kept');
      });
    }

    // ---- boot 3: a wrong hash must fail the first boot visibly
    await ctx.check('a config with a wrong sha512 fails first boot visibly', async () => {
      const wrong = createHash('sha512').update('not the payload').digest('hex');
      const bad = await ctx.boot({ name: 'wrong-hash', ignition: basicConfig(st.url, wrong) });
      try {
        await bad.waitForSsh(8 * 60_000);
      } catch (e) {
        if (!(e instanceof VmError && e.consoleFailure)) throw e;
        // Not any console failure: Ignition's own verification error, naming the hash the config asked for.
        // (Ignition 2.14: "hash verification failed (calculated sha512-X but expected sha512-Y)".)
        const why = await bad
          .waitForConsole(HASH_ERROR(wrong), 60_000, { consoleFailures: false })
          .catch(() => undefined);
        if (!why) throw new CheckError(`the boot failed, but not on Ignition's hash check: ${e.consoleFailure.name}: ${e.consoleFailure.line}`);
        return why.trim();
      } finally {
        await bad.kill();
      }
      throw new CheckError('the VM came up on SSH although the fetched file has the wrong hash');
    });
  },
};
