import { describe, expect, it, vi } from 'vitest';
import { decideAccel } from '../../qemu/kvm.js';
import { UserError } from '../../lib/errors.js';

describe('accelerator decision', () => {
  it('tcg never probes', async () => {
    const probe = vi.fn(async () => ({ ok: true }));
    expect(await decideAccel('tcg', probe)).toBe('tcg');
    expect(probe).not.toHaveBeenCalled();
  });

  it('auto uses KVM when the probe works, silently', async () => {
    const notice = vi.fn();
    expect(await decideAccel('auto', async () => ({ ok: true }), notice)).toBe('kvm');
    expect(notice).not.toHaveBeenCalled();
  });

  it('auto falls back to TCG with one notice naming the reason', async () => {
    const notice = vi.fn();
    expect(await decideAccel('auto', async () => ({ ok: false, reason: 'failed to set MSR 0x10a' }), notice)).toBe('tcg');
    expect(notice).toHaveBeenCalledTimes(1);
    expect(notice.mock.calls[0]![0]).toMatch(/KVM is not usable \(failed to set MSR 0x10a\); using TCG/);
  });

  it('an explicit kvm request fails with a user error when KVM does not work', async () => {
    const err = await decideAccel('kvm', async () => ({ ok: false, reason: '/dev/kvm: ENOENT' })).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toContain('/dev/kvm: ENOENT');
  });
});
