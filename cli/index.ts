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
import ClusterInit from './commands/cluster/init.js';
import ClusterUp from './commands/cluster/up.js';
import ClusterDown from './commands/cluster/down.js';
import ClusterStatus from './commands/cluster/status.js';

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
  'cluster:init': ClusterInit,
  'cluster:up': ClusterUp,
  'cluster:down': ClusterDown,
  'cluster:status': ClusterStatus,
};
