/** What a demo worker reports to the demo's main process: one JSON object per stdout line. */
export type WorkerEvent =
  | { readonly kind: 'ready'; readonly worker: string; readonly pid: number }
  | { readonly kind: 'elected'; readonly worker: string; readonly token: string }
  | { readonly kind: 'enqueued'; readonly worker: string; readonly job: string }
  | {
      readonly kind: 'job';
      readonly worker: string;
      readonly job: string;
      readonly resource: string;
      readonly token: string;
      readonly attempt: number;
    }
  | { readonly kind: 'fenced-write-rejected'; readonly worker: string; readonly resource: string }
  | {
      readonly kind: 'config';
      readonly worker: string;
      readonly workDelayMs: number;
      readonly revision: string;
    }
  | { readonly kind: 'error'; readonly worker: string; readonly message: string };

/** Key names the demo uses, all under one prefix so `coord status` and etcdctl show them together. */
export function demoKeys(prefix: string) {
  return {
    election: `${prefix}scheduler`,
    queue: `${prefix}jobs`,
    counter: `${prefix}processed`,
    config: `${prefix}config/`,
    progress: `${prefix}scheduler-progress`,
    resourceLock: (resource: string) => `${prefix}resource/${resource}`,
    resourceOwner: (resource: string) => `${prefix}owner/${resource}`,
  };
}

export const RESOURCES = ['printer', 'scanner', 'plotter'] as const;
