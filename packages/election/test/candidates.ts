import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sharedEndpoints } from '@coordkit/testing';

/** One line a candidate fixture printed. */
export interface CandidateMessage {
  readonly id: string;
  readonly type:
    | 'ready'
    | 'elected'
    | 'write'
    | 'write-error'
    | 'deposed'
    | 'proclaim'
    | 'resigned'
    | 'error';
  readonly token?: string;
  readonly succeeded?: boolean;
  readonly revision?: string;
  readonly code?: string;
}

/** A candidate running `fixtures/candidate.mjs` in its own process. */
export interface CandidateProcess {
  readonly id: string;
  readonly child: ChildProcess;
  readonly messages: CandidateMessage[];
  readonly exited: Promise<number | null>;
  /** Asks it to resign (it then exits). */
  resign(): void;
}

const candidateScript = fileURLToPath(new URL('./fixtures/candidate.mjs', import.meta.url));

/** Spawns a candidate process campaigning in `name` with value `id`, writing its token to `register` while it believes it leads. */
export function spawnCandidate(
  name: string,
  register: string,
  id: string,
  ttl: number,
  endpoints: readonly string[] = sharedEndpoints(),
): CandidateProcess {
  const child = spawn(process.execPath, [candidateScript, name, register, id, String(ttl)], {
    env: { ...process.env, CANDIDATE_ENDPOINTS: endpoints.join(',') },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const messages: CandidateMessage[] = [];
  let buffered = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line.trim()) messages.push(JSON.parse(line) as CandidateMessage);
    }
  });
  child.stdin?.on('error', () => undefined);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { id, child, messages, exited, resign: () => child.stdin?.write('resign\n') };
}

/** SIGKILLs (after SIGCONT, in case it was stopped) every candidate still running. */
export async function killAll(candidates: readonly CandidateProcess[]): Promise<void> {
  for (const candidate of candidates) {
    if (candidate.child.exitCode === null && candidate.child.signalCode === null) {
      candidate.child.kill('SIGCONT');
      candidate.child.kill('SIGKILL');
    }
  }
  await Promise.all(candidates.map((candidate) => candidate.exited));
}
