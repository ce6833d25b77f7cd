#!/usr/bin/env node
import { run } from './cli.js';

const controller = new AbortController();
// The first Ctrl-C cancels waits cleanly (keys removed); child commands get it forwarded by runWhileHeld.
process.once('SIGINT', () => controller.abort(new Error('interrupted')));
process.exitCode = await run(process.argv.slice(2), undefined, controller.signal);
