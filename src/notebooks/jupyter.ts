// Where Jupyter is and the environment every Jupyter process of this project runs in.
//
// Why one place: the runner, `npm run notebook` and the tests must all see the same kernelspec
// (kernel-setup/jupyter, via JUPYTER_PATH), start the kernel in the project root (NB_ROOT, so
// `import ... from 'midtrain'` resolves), and use a python that has Jupyter — not the first python on PATH,
// which on many machines (pyenv) has none.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { projectRoot } from '../config';

/** The folder holding `kernels/tslab/kernel.json`; it goes first on JUPYTER_PATH. */
export function kernelspecRoot(): string {
  return path.join(projectRoot(), 'kernel-setup', 'jupyter');
}

/** The kernel name the notebooks use (their metadata.kernelspec.name). */
export const KERNEL_NAME = 'tslab';

/** Environment for Jupyter processes: our kernelspec first on JUPYTER_PATH, the kernel's cwd, extras on top. */
export function jupyterEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const prior = process.env.JUPYTER_PATH;
  return {
    ...process.env,
    JUPYTER_PATH: prior ? `${kernelspecRoot()}${path.delimiter}${prior}` : kernelspecRoot(),
    NB_ROOT: projectRoot(),
    // Debian's python 3.11 + debugpy print a 4-line "frozen modules" warning on every start otherwise.
    PYDEVD_DISABLE_FILE_VALIDATION: '1',
    ...extra,
  };
}

let cachedPython: string | undefined;

/**
 * The python that runs Jupyter: MIDTRAIN_PYTHON, else Debian's /usr/bin/python3, else python3 on PATH — the
 * first that can import nbconvert, nbclient and jupyter_client. Throws a one-line error naming the fix.
 */
export function jupyterPython(): string {
  if (cachedPython) return cachedPython;
  const candidates = [process.env.MIDTRAIN_PYTHON, '/usr/bin/python3', 'python3'].filter((p): p is string => !!p);
  for (const py of candidates) {
    if (path.isAbsolute(py) && !fs.existsSync(py)) continue;
    const r = spawnSync(py, ['-c', 'import nbconvert, nbclient, jupyter_client'], { stdio: 'ignore', env: jupyterEnv() });
    if (r.status === 0) return (cachedPython = py);
  }
  throw new Error(`midtrain: no python with Jupyter (tried ${candidates.join(', ')}): run 'npm run setup', or set MIDTRAIN_PYTHON to a python with nbconvert, nbclient and jupyter_client`);
}

/** True when a python with Jupyter exists; for tests that skip with a reason. */
export function hasJupyter(): boolean {
  try {
    jupyterPython();
    return true;
  } catch {
    return false;
  }
}

/** True when that python can also serve (the classic `notebook` package), for `npm run notebook`. */
export function hasNotebookServer(): boolean {
  if (!hasJupyter()) return false;
  return spawnSync(jupyterPython(), ['-c', 'import notebook'], { stdio: 'ignore' }).status === 0;
}
