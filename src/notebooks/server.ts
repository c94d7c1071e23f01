// Starts the classic Jupyter Notebook server on notebooks/ with the project's tslab kernel (npm run notebook).
// The same function serves the interactive command and the end-to-end test, so the test checks what a
// researcher gets.
import { ChildProcess, spawn } from 'child_process';
import * as http from 'http';
import * as path from 'path';
import { projectRoot } from '../config';
import { hasNotebookServer, jupyterEnv, jupyterPython } from './jupyter';

export interface ServerOptions {
  /** Default 8888; Jupyter moves to the next free port when it is taken (unless a token is fixed for a test). */
  port?: number;
  /** Default 127.0.0.1: the server runs code, keep it off the network unless asked. */
  ip?: string;
  /** Fixed token; default lets Jupyter make one and print the URL with it. */
  token?: string;
  openBrowser?: boolean;
  /** Default notebooks/. */
  notebookDir?: string;
  /** Extra environment for the server and its kernels (e.g. MIDTRAIN_PRESET). */
  env?: Record<string, string>;
  /** 'inherit' for the interactive command; 'pipe' for tests (output kept in `log()`). */
  stdio?: 'inherit' | 'pipe';
}

export interface NotebookServer {
  child: ChildProcess;
  /** Base URL, e.g. http://127.0.0.1:8888/ */
  url: string;
  /** Server output so far (only with stdio 'pipe'). */
  log(): string;
  stop(): Promise<void>;
}

export function startNotebookServer(opts: ServerOptions = {}): NotebookServer {
  if (!hasNotebookServer()) {
    throw new Error(`midtrain: no Jupyter Notebook server (python package 'notebook') for ${jupyterPython()}: run 'npm run setup' (Debian: jupyter-notebook)`);
  }
  const ip = opts.ip ?? '127.0.0.1';
  const port = opts.port ?? 8888;
  const args = ['-m', 'notebook', `--ip=${ip}`, `--port=${port}`, `--notebook-dir=${opts.notebookDir ?? path.join(projectRoot(), 'notebooks')}`];
  if (!opts.openBrowser) args.push('--no-browser');
  if (opts.token !== undefined) args.push(`--NotebookApp.token=${opts.token}`, '--NotebookApp.port_retries=0');
  if (process.getuid?.() === 0) args.push('--allow-root');
  const child = spawn(jupyterPython(), args, { env: jupyterEnv(opts.env), stdio: opts.stdio === 'pipe' ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-20000)));
  child.stderr?.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-20000)));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    child,
    url: `http://${ip}:${port}/`,
    log: () => out,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** GET a server path with the token; resolves with status and body. */
export function getWithToken(url: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { Authorization: `token ${token}` } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error(`GET ${url} timed out`)));
  });
}

/** Waits until the server answers /api/status (polling; gives up after timeoutMs or when the process exits). */
export async function waitForServer(server: NotebookServer, token: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) throw new Error(`midtrain: the notebook server exited (${server.child.exitCode}): ${server.log().trim().split('\n').slice(-5).join(' | ')}`);
    try {
      const r = await getWithToken(`${server.url}api/status`, token);
      if (r.status === 200) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`midtrain: the notebook server did not answer within ${timeoutMs} ms: ${server.log().trim().split('\n').slice(-5).join(' | ')}`);
}
