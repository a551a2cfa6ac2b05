/** `ostree admin status` read by the scenarios: every deployment, not only the booted line. */

export interface Deployment {
  booted: boolean;
  stateroot: string;
  checksum: string;
  serial: number;
  /** (staged), (pending), (rollback), … as ostree prints them after the checksum. */
  flags: string[];
}

const LINE = /^([* ]) (\S+) ([0-9a-f]{64})\.(\d+)((?: \([a-z ]+\))*)\s*$/;

/** Deployments in the order ostree lists them (the first is the default); `booted` is the one marked `* `. */
export function bootedDeployments(text: string): { all: Deployment[]; booted?: Deployment } {
  const all: Deployment[] = [];
  for (const l of text.split('\n')) {
    const m = LINE.exec(l);
    if (!m) continue;
    all.push({
      booted: m[1] === '*',
      stateroot: m[2]!,
      checksum: m[3]!,
      serial: Number(m[4]),
      flags: [...m[5]!.matchAll(/\(([a-z ]+)\)/g)].map((x) => x[1]!),
    });
  }
  return { all, booted: all.find((d) => d.booted) };
}
