/** Explicit command discovery (oclif "explicit" strategy): every command is listed here. */
import Version from './commands/version.js';
import Validate from './commands/validate.js';
import Butane from './commands/butane.js';
import Compose from './commands/compose.js';
import Build from './commands/build.js';
import Run from './commands/run.js';
import Test from './commands/test.js';
import Serve from './commands/serve.js';
import PxeServe from './commands/pxe/serve.js';

export const COMMANDS = {
  version: Version,
  validate: Validate,
  butane: Butane,
  compose: Compose,
  build: Build,
  run: Run,
  test: Test,
  serve: Serve,
  'pxe:serve': PxeServe,
};
