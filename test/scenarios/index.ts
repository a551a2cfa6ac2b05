/** The scenario registry: add a scenario by writing test/scenarios/<name>.ts and listing it here. */
import { UserError } from '../../lib/errors.js';
import type { Scenario } from '../../qemu/harness.js';
import { basic } from './basic.js';
import { uefi } from './uefi.js';
import { kubelet, podman } from './kubelet.js';
import { upgrade } from './upgrade.js';
import { baselinePanic, baselineQemuDies, baselineSmoke, baselineUnitFailure } from './selftest.js';

export const SCENARIOS: readonly Scenario[] = [basic, uefi, kubelet, podman, upgrade, baselineSmoke, baselineUnitFailure, baselinePanic, baselineQemuDies];

/** Scenarios by name; no names: every scenario that is not a harness self-test. */
export function selectScenarios(names: readonly string[]): Scenario[] {
  if (names.length === 0) return SCENARIOS.filter((s) => !s.selftest && !s.explicit);
  const out: Scenario[] = [];
  for (const n of names) {
    const s = SCENARIOS.find((x) => x.name === n);
    if (!s) throw new UserError(`no such scenario: ${n}`, `known scenarios: ${SCENARIOS.map((x) => x.name).join(', ')}`);
    out.push(s);
  }
  return out;
}
