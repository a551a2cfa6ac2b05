/**
 * Scenarios `kubelet` and `podman` (issue #5): the default image is a Kubernetes node with no registry and, at run
 * time, no network at all: QEMU user networking with restrict=on, only SSH and the forwarded ports come in.
 *
 * `kubelet` (one boot) runs both halves, each assertion a named check:
 *   - the Ignition config drops a static pod manifest into /etc/kubernetes/manifests: the preloaded hello image
 *     (localhost/fcos/hello:1, imagePullPolicy Never) serving HTTP on hostPort 8081;
 *   - `systemctl is-active kubelet containerd`; kubelet's local pods endpoint (https://127.0.0.1:10250/pods with the
 *     client certificate that kubelet-prepare made) reports the pod Running with its container ready; the hostPort
 *     answers inside the VM with the pod's message; deleting the manifest makes the pod (and the port) go away;
 *   - then the podman checks below, on the same VM (a second boot would cost a TCG minute for nothing).
 * `podman` (one boot, for `fcos test podman` alone): the preloaded image is in containers-storage;
 *   `podman run -d -p 8080:80 localhost/fcos/hello:1`, and the HOST fetches the page through the QEMU forward of
 *   guest port 8080.
 */
import { request } from 'node:http';
import type { IgnitionConfig, Scenario, TestContext } from '../../qemu/harness.js';
import { CheckError } from '../../lib/errors.js';

export const HELLO_IMAGE = 'localhost/fcos/hello:1';
export const POD_NAME = 'fcos-hello';
export const POD_HOST_PORT = 8081;
export const POD_MESSAGE = 'hello from the fcos kubelet pod';
export const PODMAN_PORT = 8080;
export const PODMAN_MESSAGE = 'hello from fcos podman';
const MANIFEST = `/etc/kubernetes/manifests/${POD_NAME}.yaml`;

/** The static pod: the preloaded hello image on hostPort 8081 (CNI portmap), never pulled. */
export function helloPodManifest(): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${POD_NAME}
  namespace: default
  labels: {app: ${POD_NAME}}
spec:
  containers:
    - name: hello
      image: ${HELLO_IMAGE}
      imagePullPolicy: Never
      env:
        - {name: PORT, value: "80"}
        - {name: MESSAGE, value: "${POD_MESSAGE}"}
      ports:
        - {containerPort: 80, hostPort: ${POD_HOST_PORT}, protocol: TCP}
`;
}

export function kubeletConfig(): IgnitionConfig {
  return {
    ignition: { version: '3.3.0' },
    storage: {
      files: [{ path: MANIFEST, mode: 0o644, contents: { source: `data:,${encodeURIComponent(helloPodManifest())}` } }],
    },
  };
}

interface PodList {
  items?: {
    metadata?: { name?: string; namespace?: string };
    status?: { phase?: string; containerStatuses?: { name?: string; ready?: boolean; state?: Record<string, unknown> }[] };
  }[];
}

/** Our static pod in kubelet's /pods answer (its name gets the node name appended: fcos-hello-<hostname>). */
export function findPod(list: PodList, name = POD_NAME): NonNullable<PodList['items']>[number] | undefined {
  return (list.items ?? []).find((p) => p.metadata?.name === name || p.metadata?.name?.startsWith(`${name}-`));
}

/** Running with every container ready. */
export function podReady(p: ReturnType<typeof findPod>): boolean {
  const cs = p?.status?.containerStatuses ?? [];
  return p?.status?.phase === 'Running' && cs.length > 0 && cs.every((c) => c.ready === true);
}

const PODS_CURL =
  'sudo curl -sS --max-time 20 --cacert /etc/kubernetes/pki/ca.crt --cert /etc/kubernetes/pki/admin.crt --key /etc/kubernetes/pki/admin.key https://127.0.0.1:10250/pods';

/** Thrown inside poll(): give up at once (a state that cannot get better). */
class PollAbort extends Error {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retry fn until it returns a value (not undefined) or the time is up; the last error/state goes into the message. */
async function poll<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>, everyMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      if (e instanceof PollAbort) throw e;
      last = e instanceof Error ? e.message : String(e);
    }
    if (Date.now() > end) throw new CheckError(`${what}: not after ${Math.round(timeoutMs / 1000)} s${last ? ` (last: ${last.split('\n').slice(0, 6).join('\n')})` : ''}`);
    await sleep(everyMs);
  }
}

/** GET http://127.0.0.1:port/ from the host. */
function hostGet(port: number, timeoutMs = 15_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new CheckError(`no answer from 127.0.0.1:${port} in ${timeoutMs / 1000} s`)));
    req.on('error', reject);
    req.end();
  });
}

/** The host GETs a forwarded guest port until it answers 200, and the body must be "MESSAGE <hostname>". */
async function hostReaches(ctx: TestContext, guestPort: number, message: string): Promise<string> {
  const port = ctx.hostPort(guestPort);
  const r = await poll(`GET http://127.0.0.1:${port}/ (guest ${guestPort})`, 120_000, async () => {
    const res = await hostGet(port);
    if (res.status === 200) return res;
    throw new CheckError(`HTTP ${res.status}`);
  });
  if (!r.body.startsWith(`${message} `)) throw new CheckError(`body ${JSON.stringify(r.body)}, want "${message} <hostname>"`);
  return `host 127.0.0.1:${port} -> guest ${guestPort}: ${r.body.trim()}`;
}

export async function kubeletChecks(ctx: TestContext): Promise<void> {
  const vm = ctx.vm;
  const pods = async (): Promise<PodList> => {
    const r = await vm.ssh(PODS_CURL, { timeoutMs: 40_000 });
    if (r.exitCode !== 0) throw new CheckError(`curl /pods: exit ${r.exitCode}: ${r.stderr.trim()}`);
    return JSON.parse(r.stdout) as PodList;
  };

  await ctx.check('kubelet and containerd are active', async () => {
    // kubelet restarts until containerd and its PKI are there: wait for both to settle as active.
    return poll('systemctl is-active kubelet containerd', 180_000, async () => {
      const r = await vm.ssh('systemctl is-active kubelet containerd');
      const states = r.stdout.trim().split('\n');
      if (r.exitCode === 0 && states.length === 2 && states.every((x) => x === 'active')) return states.join(' ');
      throw new CheckError(states.join(' '));
    });
  });

  await ctx.check('kubelet reports the static pod Running with its container ready', async () => {
    const p = await poll('the pod Running and ready', 300_000, async () => {
      const pod = findPod(await pods());
      if (podReady(pod)) return pod;
      throw new CheckError(`pod: ${JSON.stringify(pod?.status ?? 'not listed').slice(0, 600)}`);
    });
    return `${p!.metadata?.namespace}/${p!.metadata?.name} ${p!.status?.phase}`;
  });

  await ctx.check('the kubelet API is local only and needs a client certificate', async () => {
    // Listens on 127.0.0.1 only; without the client certificate the answer is 401; read-only port 10255 is off.
    // (kubelet reported the pod through 10250 already, so it listens: no waiting here.)
    const ss = await vm.sshOk('sudo ss -Htln');
    const l10250 = ss.split('\n').filter((l) => /:10250\s/.test(l));
    if (l10250.length === 0) throw new CheckError(`nothing listens on 10250:\n${ss}`);
    const wild = l10250.filter((l) => !/\s127\.0\.0\.1:10250\s/.test(l));
    if (wild.length) throw new CheckError(`10250 listens beyond loopback:\n${wild.join('\n')}`);
    if (/:10255\s/.test(ss)) throw new CheckError('the read-only port 10255 is open');
    const anon = (await vm.sshOk('curl -sk -o /dev/null -w "%{http_code}" https://127.0.0.1:10250/pods; true')).trim();
    if (anon !== '401') throw new CheckError(`an anonymous GET /pods got HTTP ${anon}, want 401`);
    return 'loopback only, anonymous 401, no read-only port';
  });

  await ctx.check('the pod answers HTTP on its host port inside the VM', async () => {
    const body = await poll(`curl 127.0.0.1:${POD_HOST_PORT}`, 120_000, async () => {
      const r = await vm.ssh(`curl -sS --max-time 10 http://127.0.0.1:${POD_HOST_PORT}/`);
      if (r.exitCode !== 0) throw new CheckError(r.stderr.trim());
      return r.stdout;
    });
    if (!body.startsWith(`${POD_MESSAGE} `)) throw new CheckError(`body ${JSON.stringify(body)}, want "${POD_MESSAGE} <pod hostname>"`);
    return body.trim();
  });

  await ctx.check('the host reaches the pod over the network (QEMU forward to its host port)', async () => {
    return hostReaches(ctx, POD_HOST_PORT, POD_MESSAGE);
  });

  await ctx.check('deleting the manifest makes the pod go away', async () => {
    await vm.sshOk(`sudo rm ${MANIFEST}`);
    await poll('the pod gone from /pods', 180_000, async () => {
      const pod = findPod(await pods());
      if (!pod) return true;
      throw new CheckError(`still listed: ${pod.metadata?.name} ${pod.status?.phase}`);
    });
    await poll(`port ${POD_HOST_PORT} closed`, 120_000, async () => {
      // curl's 7 (connection refused) only: ssh's own failure (255) or a time-out is not "closed".
      await vm.sshFails(`curl -s --max-time 5 -o /dev/null http://127.0.0.1:${POD_HOST_PORT}/`, { want: 7 });
      return true;
    });
    return 'gone from /pods, port closed';
  });
}

export async function podmanChecks(ctx: TestContext): Promise<void> {
  const vm = ctx.vm;
  await ctx.check('the preloaded image is in containers-storage', async () => {
    // fcos-preload-images.service loads it at first boot: wait for the unit to finish.
    await poll('fcos-preload-images finished', 300_000, async () => {
      const st = (await vm.ssh('systemctl is-active fcos-preload-images.service')).stdout.trim();
      if (st === 'active') return true;
      if (st === 'failed') throw new PollAbort('fcos-preload-images.service failed');
      throw new CheckError(st);
    });
    const names = await vm.sshOk("sudo podman images --format '{{.Repository}}:{{.Tag}}'");
    if (!names.split('\n').includes(HELLO_IMAGE)) throw new CheckError(`${HELLO_IMAGE} not in podman images:\n${names}`);
    return HELLO_IMAGE;
  });

  const started = await ctx.check('podman run -d -p 8080:80 the preloaded image', async () => {
    const id = await vm.sshOk(`sudo podman run -d --pull never --name fcos-web -e MESSAGE='${PODMAN_MESSAGE}' -p ${PODMAN_PORT}:80 ${HELLO_IMAGE}`, { timeoutMs: 180_000 });
    return id.trim().slice(0, 12);
  });

  await ctx.check('the host reaches the podman container through the QEMU port forward', async () => {
    if (!started) throw new CheckError('podman run failed (see above)');
    return hostReaches(ctx, PODMAN_PORT, PODMAN_MESSAGE);
  });

  await ctx.check('the guest has no network beyond the forwarded ports', async () => {
    // A host HTTP server that the guest reaches at 10.0.2.2:PORT under plain user networking (the basic scenario
    // fetches a file that way): with restrict=on slirp resets the connection, and the server sees no request.
    let hits = 0;
    const srv = await ctx.serve({ 'probe.txt': 'reachable\n' }, () => void hits++);
    const r = await vm.ssh(`curl -sS --max-time 10 ${srv.url('probe.txt')} 2>&1; echo "exit=$?"`);
    const exit = /exit=(\d+)/.exec(r.stdout)?.[1];
    if (exit === '0' || hits > 0) throw new CheckError(`the guest reached the host's ${srv.url('probe.txt')}: ${r.stdout.trim()}`);
    if (exit !== '7' && exit !== '28') throw new CheckError(`curl failed for another reason: ${r.stdout.trim()}`);
    return `${srv.url('probe.txt')}: ${r.stdout.trim().split('\n')[0]}`;
  });
}

export const kubelet: Scenario = {
  name: 'kubelet',
  description: 'standalone kubelet runs a static pod of a preloaded image; podman runs it too, reached from the host; no network',
  needs: { image: 'fcos', forwardPorts: [PODMAN_PORT, POD_HOST_PORT], restrictNetwork: true },
  boots: 1,
  timeoutMin: 20,
  ignition: () => kubeletConfig(),
  async run(ctx) {
    await kubeletChecks(ctx);
    await podmanChecks(ctx);
  },
};

export const podman: Scenario = {
  name: 'podman',
  description: 'podman runs the preloaded image with -p 8080:80, reached from the host; no network',
  needs: { image: 'fcos', forwardPorts: [PODMAN_PORT], restrictNetwork: true },
  boots: 1,
  timeoutMin: 15,
  async run(ctx) {
    await podmanChecks(ctx);
  },
};
