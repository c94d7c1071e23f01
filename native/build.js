#!/usr/bin/env node
// Builds the native CPU kernel addon (native/build/midtrain_native.node) with the system C++ compiler,
// Node's own headers and OpenBLAS (Debian: libopenblas-dev). Offline, no node-gyp download.
//
//   node native/build.js               build (skips when up to date); exits 1 on failure
//   node native/build.js --force       rebuild
//   node native/build.js --postinstall never fails: on failure prints one line and the project keeps
//                                      using the wasm backend (src/backend/native.ts reports why)
//
// kernels.cc is compiled three times (generic x86-64, AVX2+FMA, AVX-512) and the addon picks the widest
// one the CPU supports at load time, so the binary is portable across x86-64 machines.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync, execFile } = require('child_process');

const here = __dirname;
const srcDir = path.join(here, 'src');
const outDir = path.join(here, 'build');
const target = path.join(outDir, 'midtrain_native.node');
const sources = ['addon.cc', 'kernels.cc', 'kernels.h'].map((f) => path.join(srcDir, f));

function fail(msg) {
  const err = new Error(msg);
  err.buildFailure = true;
  throw err;
}

/** Node's C headers: next to the running binary (nvm, official tarballs) or the distro's /usr/include/node. */
function nodeHeaders() {
  const candidates = [
    process.env.npm_config_nodedir && path.join(process.env.npm_config_nodedir, 'include', 'node'),
    path.resolve(process.execPath, '..', '..', 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ].filter(Boolean);
  for (const dir of candidates) if (fs.existsSync(path.join(dir, 'node_api.h'))) return dir;
  fail(`node_api.h not found (looked in ${candidates.join(', ')}); install Node's headers (Debian: nodejs dev files)`);
}

function compiler() {
  const cxx = process.env.CXX || 'g++';
  try {
    execFileSync(cxx, ['--version'], { stdio: 'ignore' });
  } catch {
    fail(`C++ compiler '${cxx}' not found (Debian: apt-get install g++)`);
  }
  return cxx;
}

/** Include dir holding cblas.h (Debian puts OpenBLAS's under the multiarch include dir). */
function cblasInclude(cxx) {
  const dirs = ['/usr/include/x86_64-linux-gnu', '/usr/include/aarch64-linux-gnu', '/usr/include/openblas', '/usr/include'];
  for (const d of dirs) if (fs.existsSync(path.join(d, 'cblas.h'))) return d;
  fail('cblas.h not found: install OpenBLAS headers (Debian: apt-get install libopenblas-dev)');
}

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}\n${stderr || err.message}`));
      else resolve();
    });
  });
}

function upToDate() {
  if (!fs.existsSync(target)) return false;
  const t = fs.statSync(target).mtimeMs;
  return sources.every((s) => fs.statSync(s).mtimeMs <= t) && fs.statSync(__filename).mtimeMs <= t;
}

async function build({ force = false } = {}) {
  if (!force && upToDate()) return { built: false, target };
  const cxx = compiler();
  const inc = nodeHeaders();
  const blasInc = cblasInclude(cxx);
  fs.mkdirSync(outDir, { recursive: true });
  const x86 = os.arch() === 'x64';
  const common = ['-std=c++17', '-O3', '-fPIC', '-fopenmp', '-fvisibility=hidden', '-fno-math-errno',
    // no FP traps (lets GCC vectorise selects) and reassociation of sums (vectorised reductions); NaN/inf kept
    '-fno-trapping-math', '-fassociative-math', '-fno-signed-zeros',
    `-I${inc}`, `-I${blasInc}`, '-Wall', '-Wno-unused-function'];
  // One kernels object per ISA; -march levels are the psABI ones (x86-64-v3 = AVX2+FMA, v4 = AVX-512).
  const isas = x86
    ? [['generic', ['-march=x86-64', '-mtune=generic']],
       ['avx2', ['-march=x86-64-v3', '-mtune=generic']],
       ['avx512', ['-march=x86-64-v4', '-mtune=icelake-server', '-mprefer-vector-width=512']]]
    : [['generic', []]];
  const tmp = fs.mkdtempSync(path.join(outDir, 'tmp-'));
  try {
    const objs = [];
    const jobs = isas.map(([isa, flags]) => {
      const obj = path.join(tmp, `kernels-${isa}.o`);
      objs.push(obj);
      return [cxx, [...common, ...flags, `-DMT_ISA=${isa}`, '-c', path.join(srcDir, 'kernels.cc'), '-o', obj]];
    });
    const addonObj = path.join(tmp, 'addon.o');
    objs.push(addonObj);
    jobs.push([cxx, [...common, ...(x86 ? ['-DMT_HAVE_X86_ISAS'] : []), '-DNODE_GYP_MODULE_NAME=midtrain_native',
      '-c', path.join(srcDir, 'addon.cc'), '-o', addonObj]]);
    // two at a time: the machines this targets often have 2 cores
    for (let i = 0; i < jobs.length; i += 2) await Promise.all(jobs.slice(i, i + 2).map(([c, a]) => run(c, a)));
    const linked = path.join(tmp, 'midtrain_native.node');
    await run(cxx, ['-shared', '-fopenmp', '-o', linked, ...objs, '-lopenblas', '-lm']).catch((e) => {
      fail(`linking against OpenBLAS failed (Debian: apt-get install libopenblas-dev)\n${e.message}`);
    });
    // Load it in a child process before installing it, so a broken binary never replaces a working one.
    execFileSync(process.execPath, ['-e', `require(${JSON.stringify(linked)}).info()`], { stdio: 'pipe' });
    fs.renameSync(linked, target);  // atomic replace
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return { built: true, target };
}

module.exports = { build, target };

if (require.main === module) {
  const args = process.argv.slice(2);
  const postinstall = args.includes('--postinstall');
  const t0 = Date.now();
  build({ force: args.includes('--force') }).then(
    (r) => {
      const info = require(r.target).info();
      console.log(`midtrain: native CPU kernels ${r.built ? 'built' : 'up to date'} (${path.relative(process.cwd(), r.target)}, ` +
        `kernels for ${info.isa}, ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    },
    (e) => {
      const first = String(e.message).split('\n')[0];
      if (postinstall) {
        console.log(`midtrain: native CPU kernels not built (${first}); training on CPU uses the wasm backend`);
        process.exit(0);
      }
      console.error(`midtrain: native build failed: ${e.message}`);
      process.exit(1);
    },
  );
}
