// Runs before pnpm resolves or installs anything: refuse an old Node.js with one line, instead of
// an install that succeeds and a demo that dies with stack traces. Plain CommonJS on purpose, so
// that the oldest Node.js can read it. Keep the version in step with "engines" in package.json.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 22)) {
  process.stderr.write(
    `multipod needs Node.js 22.22 or later (24 recommended); this is ${process.version} (${process.execPath})\n`,
  );
  process.exit(1);
}
module.exports = {};
