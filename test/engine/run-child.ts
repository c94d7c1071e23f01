// Child process for the multi-process tests: getOrRun(<config.json>) on the in-memory micro data, in the
// store at MIDTRAIN_CACHE, with messages on (the tests read them). Not a test file itself.
import * as fs from 'fs';
import { getOrRun } from '../../src/runs/store';
import { microData } from './fixtures';

getOrRun(JSON.parse(fs.readFileSync(process.argv[2], 'utf8')), { data: microData(), pollMs: 50 }).then(
  (r) => console.log(`child done: ${r.status}`),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
