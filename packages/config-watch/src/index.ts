/**
 * Typed, validated, hot-reloaded configuration from etcd: every key under a prefix becomes one nested
 * config object, applied one revision at a time and validated by any Standard Schema validator.
 * @packageDocumentation
 */
export { ConfigWatch } from './config-watch.js';
export { formatFlatFile, parseFlatFile } from './flat-file.js';
export { exportConfig, type ImportOptions, importConfig } from './import-export.js';
export { formatJsonFile, parseJsonFile } from './json-file.js';
export type {
  ConfigChange,
  ConfigErrorReport,
  ConfigWatchOptions,
  DeepPartial,
  EtcdClient,
  SetOptions,
  WriteResult,
} from './types.js';
