// Keeps the README's DAG block equal to `batch graph` of the example pipeline.
//   node scripts/readme-dag.mjs          rewrite the block
//   node scripts/readme-dag.mjs --check  exit 1 if the block is stale (CI)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const mermaid = execFileSync(process.execPath, [path.join(root, 'bin/batch.js'), '-C', root, 'graph'], { encoding: 'utf8' }).trim();
const block = `<!-- dag:start -->\n\`\`\`mermaid\n${mermaid}\n\`\`\`\n<!-- dag:end -->`;
const readmePath = path.join(root, 'README.md');
const readme = fs.readFileSync(readmePath, 'utf8');
const re = /<!-- dag:start -->[\s\S]*?<!-- dag:end -->/;
if (!re.test(readme)) {
  console.error('README.md has no <!-- dag:start --> … <!-- dag:end --> block');
  process.exit(1);
}
const next = readme.replace(re, block);
if (process.argv.includes('--check')) {
  if (next !== readme) {
    console.error('README.md: the DAG block is not what `batch graph` prints; run `node scripts/readme-dag.mjs`');
    process.exit(1);
  }
  console.log('README DAG is current');
} else {
  fs.writeFileSync(readmePath, next);
  console.log('README DAG updated');
}
