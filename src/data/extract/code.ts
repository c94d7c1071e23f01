// The "StarCoder" role: Python source files from Debian packages (numpy, networkx, scikit-learn,
// Django, the CPython standard library). SymPy is NOT here: its functions are the CodeSearchNet-style
// SFT task, so the task is disjoint from midtraining code by package.
import * as fs from 'fs';
import * as path from 'path';
import { listFiles, type FetchedSource } from '../sources';
import { normalizeText, type Doc } from '../text';

/** Files above this size are generated tables or vendored blobs, not representative code. */
const MAX_FILE_CHARS = 120_000;

export function pythonFiles(src: FetchedSource, key: string): Doc[] {
  const docs: Doc[] = [];
  for (const rel of listFiles(src.dir, (r) => r.endsWith('.py') && !r.includes('/locale/') && !r.includes('/migrations/'))) {
    const raw = fs.readFileSync(path.join(src.dir, rel), 'utf8');
    if (raw.length > MAX_FILE_CHARS || raw.length < 200 || raw.includes('\u0000')) continue;
    docs.push({ id: `${key}/${rel}`, source: key, text: normalizeText(raw) });
  }
  return docs;
}

export function codeDocs(s: Record<'numpy' | 'networkx' | 'sklearn' | 'django' | 'pystdlib', FetchedSource>): Doc[] {
  return (['numpy', 'networkx', 'sklearn', 'django', 'pystdlib'] as const).flatMap((k) => pythonFiles(s[k], k));
}
