#!/usr/bin/env node
import { run } from './cli.js';

// grpc-js passes each endpoint's host as the TLS servername, and Node warns once (DEP0123) when that
// host is an IP address such as 127.0.0.1. The server certificate is still verified, so the warning
// gives a CLI user nothing to act on, and its two stderr lines would break the CLI's one-line errors.
// Only that code is dropped; every other warning (coordkit's own included) is still printed.
const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
process.emitWarning = ((...args: unknown[]) => {
  const [, typeOrOptions, code] = args;
  const warningCode =
    typeof typeOrOptions === 'object' && typeOrOptions !== null
      ? (typeOrOptions as { code?: unknown }).code
      : code;
  if (warningCode !== 'DEP0123') emitWarning(...args);
}) as typeof process.emitWarning;

const controller = new AbortController();
// The first Ctrl-C cancels waits cleanly (keys removed); child commands get it forwarded by runWhileHeld.
process.once('SIGINT', () => controller.abort(new Error('interrupted')));
process.exitCode = await run(process.argv.slice(2), undefined, controller.signal);
