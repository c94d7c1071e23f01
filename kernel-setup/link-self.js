// Makes `import ... from 'midtrain'` resolve to this project (notebooks, tslab and scripts import the
// library by package name; tslab cannot import from outside the notebook's folder — tslab#63).
const fs = require('fs');
const path = require('path');
const root = path.resolve(__dirname, '..');
const link = path.join(root, 'node_modules', 'midtrain');
try {
  const st = fs.lstatSync(link);
  if (st.isSymbolicLink() && fs.realpathSync(link) === fs.realpathSync(root)) process.exit(0);
  fs.rmSync(link, { recursive: true, force: true });
} catch { /* not there yet */ }
fs.mkdirSync(path.dirname(link), { recursive: true });
fs.symlinkSync('..', link, 'dir');
