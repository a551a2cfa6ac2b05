/**
 * The one door to @oclif/core: bin/fcos and every command import oclif from here, so that one copy of it is loaded.
 * `make build` replaces the compiled file (dist/cli/oclif.js) with a loader of a single-file bundle of @oclif/core
 * compiled with a V8 code cache (scripts/build-dist.mjs): its ~160 modules otherwise cost more to load than all of
 * `fcos validate`. A bare `tsc` puts this plain re-export back, which is slower but the same.
 */
export { Args, Command, Config, Errors, Flags, Plugin, execute } from '@oclif/core';
