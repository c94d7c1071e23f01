// Child process for resume.test.ts: trains the resume test's run in the store at MIDTRAIN_CACHE until
// the parent test SIGKILLs it. Not a test file itself.
import { getOrRun } from '../../src/runs/store';
import { microData } from './fixtures';
import { resumeConfig } from './resume-config';

getOrRun(resumeConfig(), { quiet: true, data: microData() }).then(
  (r) => console.log(`child finished: ${r.status}`),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
