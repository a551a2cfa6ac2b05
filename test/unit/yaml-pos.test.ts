import { describe, expect, it } from 'vitest';
import yaml from 'js-yaml';
import { PositionedYaml, YamlSyntaxError, parseYaml } from '../../lib/yaml.js';
import { UserError } from '../../lib/errors.js';

describe('lib/yaml: the one YAML position tracker (manifest and Butane)', () => {
  const text = ['# a comment', 'packages:', '  - a', '  -', '  - c', 'initramfs:', '  compress: zstd', "  'odd/key': 1", ''].join('\n');

  it('maps JSON pointers to line and column, keys with `key`, and falls back to the nearest ancestor', () => {
    const doc = new PositionedYaml(text);
    expect(doc.value).toEqual({ packages: ['a', null, 'c'], initramfs: { compress: 'zstd', 'odd/key': 1 } });
    expect(doc.position('')).toEqual({ line: 2, col: 1 });
    expect(doc.position('/packages/0')).toEqual({ line: 3, col: 5 });
    // An empty item makes no parser event: the next item is still found where it is.
    expect(doc.position('/packages/2')).toEqual({ line: 5, col: 5 });
    expect(doc.position('/initramfs/compress')).toEqual({ line: 7, col: 13 });
    expect(doc.position('/initramfs', 'compress')).toEqual({ line: 7, col: 3 });
    expect(doc.position('/initramfs/odd~1key')).toEqual({ line: 8, col: 14 });
    expect(doc.position('/initramfs/nothing/deeper')).toEqual({ line: 7, col: 3 });
    expect(doc.position('/packages/x')).toEqual({ line: 3, col: 3 });
    expect(new PositionedYaml('').position('/a')).toEqual({ line: 1, col: 1 });
  });

  it('bad YAML is a YamlSyntaxError (a UserError) with line and column; NUL is reported where it is', () => {
    const e = (() => {
      try {
        new PositionedYaml('a: [1,\nb: }');
      } catch (x) {
        return x;
      }
    })() as YamlSyntaxError;
    expect(e).toBeInstanceOf(YamlSyntaxError);
    expect(e).toBeInstanceOf(UserError);
    expect(e.line).toBe(2);
    expect(() => parseYaml('a: 1\nb: x\0', yaml.CORE_SCHEMA)).toThrow(expect.objectContaining({ line: 2, col: 5, message: 'null byte is not allowed in input' }));
  });

  it('keeps the raw text of plain scalars (for Go-style integers) and knows quoted ones', () => {
    const p = parseYaml('mode: 0644\nname: "0644"\n', yaml.CORE_SCHEMA);
    expect(p.root?.kind).toBe('map');
    const entries = p.root!.kind === 'map' ? p.root!.entries : [];
    expect(entries.map((e) => (e.value.kind === 'scalar' ? [e.key, e.value.raw, e.value.quoted] : []))).toEqual([
      ['mode', '0644', false],
      ['name', undefined, true],
    ]);
    expect(p.src.pos(entries[1]!.keyStart)).toEqual({ line: 2, col: 1 });
  });
});
