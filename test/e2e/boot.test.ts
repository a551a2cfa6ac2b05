/**
 * Boot scenarios of issue #4, through the real CLI (`fcos build`, then `fcos test`):
 *   - the default image is built from examples/config.ign (the README's main job) into a builds dir that is kept
 *     between runs under the cache dir, so a warm CI reuses the compose (no changes) and only rebuilds the disk;
 *   - `basic` (3 boots): Ignition via fw_cfg (so the fw_cfg config wins over the embedded example config), checks over
 *     SSH, a reboot without Ignition, and a wrong sha512 that must fail first boot visibly;
 *   - `uefi` (1 boot): the same image under OVMF, and on the same boot the `kubelet` scenario's checks (QEMU
 *     networking restrict=on): the default image is a Kubernetes node: a static pod of the preloaded hello image
 *     served on a host port (reached from the host through a QEMU forward), reported by kubelet's local API, removed
 *     with its manifest; and the podman half (`podman run -d -p 8080:80`, fetched from the host).
 * Both scenarios run in ONE `fcos test basic uefi --parallel 2 --json` (started in beforeAll once the image is built):
 * under TCG a VM keeps one of the machine's two cores busy, so the two run side by side instead of one after the
 * other. Each test checks its own scenario in that one report: ok, with every check passed, and the exit status the
 * report's; the harness itself fails a scenario on console failure patterns, failed units and time-outs.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BOOT_BUILDS, buildDefaultImage, expectPassed, plannedBoots, ROOT, testRun, type TestRun } from './fcos-cli.js';

const B = BOOT_BUILDS;
const OUT = join(ROOT, 'tmp', 'fcos-test');
/** The one run of both scenarios, started by beforeAll and awaited by each test (the first test waits for it). */
let run: Promise<TestRun> | undefined;
const scenario = async (name: string) => {
  if (!run) throw new Error('fcos test did not start: the image build in beforeAll failed');
  return expectPassed(await run, name);
};

describe('boot scenarios (TCG)', () => {
  beforeAll(async () => {
    mkdirSync(B, { recursive: true });
    const meta = await buildDefaultImage(B);
    // The default image is a Kubernetes node: meta.json has the kubelet's provenance and the preloaded images.
    expect(meta.kubelet).toMatchObject({ version: 'v1.35.4', source: 'go-module' });
    expect(meta.kubelet?.moduleHash).toMatch(/^h1:[A-Za-z0-9+/]{43}=$/);
    expect(meta.kubelet?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect((meta['container-images'] ?? []).map((i) => i.ref).sort()).toEqual(['localhost/fcos/hello:1', 'localhost/fcos/pause:3.10']);
    // The builds dir is kept between runs: drop the disk images of older builds so the disk does not fill up.
    const latest = realpathSync(join(B, 'latest'));
    for (const d of readdirSync(B, { withFileTypes: true })) {
      const dir = join(B, d.name);
      if (!d.isDirectory() || d.name === 'repo' || d.name.startsWith('.') || realpathSync(dir) === latest) continue;
      for (const f of readdirSync(dir)) if (/\.(qcow2|raw)$/.test(f)) rmSync(join(dir, f), { force: true });
    }
    // Not awaited here: the hook's time is the build's; the scenarios' run is the first test's.
    run = testRun(['basic', 'uefi'], { builds: B, out: OUT, parallel: 2 });
    run.catch(() => undefined); // rejected (no JSON report): each test reports it when it awaits
  });

  it('basic: first boot with Ignition, SSH checks, reboot, wrong hash fails', async () => {
    const s = await scenario('basic');
    const names = s.checks.map((c) => c.name);
    for (const want of [
      'hostname from the config',
      'file with contents, mode and owner',
      'user core has the SSH key from the config',
      'file fetched from the host over HTTP, sha512 verified',
      'systemd unit from the config ran',
      '/usr is read-only',
      'ostree admin status shows one booted deployment',
      'etcdctl put/get',
      'podman runs an image made in the test',
      'reboot',
      'Ignition did not run on the second boot',
      '/etc and /var changes persisted',
      'a config with a wrong sha512 fails first boot visibly',
      'system is running (no failed units)',
      'console shows no failure',
    ]) {
      expect(names).toContain(want);
    }
    // QEMU launches: first boot, the cold reboot, the wrong-hash VM.
    expect(plannedBoots(s)).toBe(3);
  });

  it('uefi + kubelet + podman (1 boot under OVMF, no network): fw_cfg config, a static pod and podman reached from the host', async () => {
    const s = await scenario('uefi');
    const names = s.checks.map((c) => c.name);
    for (const want of [
      'booted by UEFI firmware',
      'hostname from the fw_cfg config (not the embedded one)',
      'ostree admin status shows the booted deployment',
      'kubelet and containerd are active',
      'the kubelet API is local only and needs a client certificate',
      'kubelet reports the static pod Running with its container ready',
      'the pod answers HTTP on its host port inside the VM',
      'the host reaches the pod over the network (QEMU forward to its host port)',
      'deleting the manifest makes the pod go away',
      'the preloaded image is in containers-storage',
      'podman run -d -p 8080:80 the preloaded image',
      'the host reaches the podman container through the QEMU port forward',
      'the guest has no network beyond the forwarded ports',
      'system is running (no failed units)',
      'console shows no failure',
    ]) {
      expect(names).toContain(want);
    }
    expect(plannedBoots(s)).toBe(1);
  });
});
