// The files `batch init` writes: a small working pipeline (a `run` step in TypeScript, a
// `command` step, an integrity test) and the layout around it (scripts that install and run,
// README with the DAG, tsconfig, .gitignore). Kept apart from the logic in init.ts.

/** The seed pipeline: written only into a folder that has no Batchfile yet. */
export const SEED: Readonly<Record<string, string>> = {
  'Batchfile.ts': `import { defineBatch } from 'batchfile';

// Each step declares what it reads and writes; batch runs a step only when its inputs, code,
// params or env changed, or its outputs are not what it last wrote.
// Reference: node_modules/batchfile/docs/batchfile.md
export default defineBatch({
  steps: {
    generate: {
      description: 'the numbers 1..count, as JSON',
      run: 'steps/01-generate.ts',
      params: { count: 100 },
      outputs: ['build/numbers.json'],
    },
    summarize: {
      description: 'count, sum and mean of the numbers',
      command: ['node', 'steps/02-summarize.mjs', 'build/numbers.json', 'build/summary.json'],
      inputs: ['build/numbers.json'],
      outputs: ['build/summary.json'],
    },
  },
  // Checked after every run that changed something: Vitest files that read the outputs.
  tests: { files: ['tests/integrity/**/*.test.ts'] },
});
`,
  'steps/01-generate.ts': `// A \`run\` step: a module whose default export batch calls in a worker thread.
import fs from 'node:fs';
import path from 'node:path';
import { defineStep } from 'batchfile';

export default defineStep<{ count: number }>(async (ctx) => {
  const numbers = Array.from({ length: ctx.params.count }, (_, i) => i + 1);
  const out = ctx.outputs[0]!;
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, \`\${JSON.stringify(numbers)}\\n\`);
  ctx.log(\`wrote \${numbers.length} numbers\`);
});
`,
  'steps/02-summarize.mjs': `// A \`command\` step's program: any executable works (Python, R, a shell script ...).
// Usage: node steps/02-summarize.mjs IN.json OUT.json
import fs from 'node:fs';
import path from 'node:path';

const [input, output] = process.argv.slice(2);
const numbers = JSON.parse(fs.readFileSync(input, 'utf8'));
const sum = numbers.reduce((a, b) => a + b, 0);
fs.mkdirSync(path.dirname(output), { recursive: true });
fs.writeFileSync(output, \`\${JSON.stringify({ count: numbers.length, sum, mean: sum / numbers.length }, null, 2)}\\n\`);
console.log(\`summarized \${numbers.length} numbers\`);
`,
  'tests/integrity/summary.test.ts': `// Integrity tests: batch runs them after the steps (Vitest), and again only when the
// tests or the outputs they check changed.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = <T>(file: string): T => JSON.parse(fs.readFileSync(file, 'utf8')) as T;

describe('summary', () => {
  it('agrees with the numbers it summarizes', () => {
    const numbers = read<number[]>('build/numbers.json');
    const summary = read<{ count: number; sum: number; mean: number }>('build/summary.json');
    expect(summary.count).toBe(numbers.length);
    expect(summary.sum).toBe(numbers.reduce((a, b) => a + b, 0));
    expect(summary.mean).toBeCloseTo(summary.sum / summary.count);
  });
});
`,
  'docs/pipeline.md': `# The pipeline

| step | kind | reads | writes |
|---|---|---|---|
| \`generate\` | \`run\` (steps/01-generate.ts) | params \`count\` | build/numbers.json |
| \`summarize\` | \`command\` (steps/02-summarize.mjs) | build/numbers.json | build/summary.json |

Integrity tests: \`tests/integrity/\`. Every run appends to \`logs/execution_logs.csv\` and keeps
each step's output in \`logs/runs/<run-id>/<step>.log\`; \`npx batch history\` lists the runs.
`,
  'README.md': `# My pipeline

Run it (installs on the first run, then runs only what changed, then the integrity tests):

\`\`\`sh
./run.sh            # Windows: run.bat; anywhere: python3 run.py. Arguments go to batch.
./run.sh --force    # rerun every step
npm run typecheck   # type-check the Batchfile, the steps and the tests
\`\`\`

The steps (\`npx batch graph\` prints this):

\`\`\`mermaid
flowchart LR
  s0["generate"]
  s1[/"summarize"/]
  s0 --> s1
\`\`\`

What each step does: [docs/pipeline.md](docs/pipeline.md).
`,
};

/** The layout around the pipeline: written into any folder that lacks them. */
export const LAYOUT: Readonly<Record<string, string>> = {
  '.gitignore': `.cache/
logs/
node_modules/
`,
  'tsconfig.json': `{
  "compilerOptions": {
    "target": "ES2022",
    "module": "ESNext",
    "moduleResolution": "Bundler",
    "lib": ["ES2023"],
    "types": ["node"],
    "strict": true,
    "noUncheckedIndexedAccess": true,
    "skipLibCheck": true,
    "noEmit": true
  },
  "include": ["Batchfile.ts", "steps", "tests"]
}
`,
  'install.sh': `#!/usr/bin/env bash
# Installs what package.json lists (pinned by package-lock.json once it exists).
set -euo pipefail
cd "$(dirname "$0")"
command -v node >/dev/null || { echo "install.sh: Node.js 20.19 or newer is required (https://nodejs.org)" >&2; exit 1; }
npm install --no-audit --no-fund
`,
  'install.bat': `@echo off
rem Installs what package.json lists (pinned by package-lock.json once it exists).
cd /d "%~dp0"
where node >nul 2>nul || (echo install.bat: Node.js 20.19 or newer is required & exit /b 1)
call npm install --no-audit --no-fund || exit /b 1
`,
  'run.sh': `#!/usr/bin/env bash
# Installs when needed (first run, or package.json changed), then runs the pipeline.
# Arguments go to batch (./run.sh --force, ./run.sh --help).
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x node_modules/.bin/batch ] || [ package.json -nt node_modules/.package-lock.json ]; then
  ./install.sh
fi
exec node_modules/.bin/batch "$@"
`,
  'run.bat': `@echo off
rem Installs when needed, then runs the pipeline. Arguments go to batch.
cd /d "%~dp0"
if not exist node_modules\\.bin\\batch.cmd call install.bat || exit /b 1
call node_modules\\.bin\\batch.cmd %*
exit /b %ERRORLEVEL%
`,
  'run.py': `#!/usr/bin/env python3
"""Installs when needed, then runs the pipeline with the given arguments; exits with batch's code."""
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
os.chdir(here)
windows = os.name == "nt"
batch = os.path.join("node_modules", ".bin", "batch.cmd" if windows else "batch")
lock = os.path.join("node_modules", ".package-lock.json")
if not os.path.exists(batch) or not os.path.exists(lock) or os.path.getmtime("package.json") > os.path.getmtime(lock):
    subprocess.run(["cmd", "/c", "install.bat"] if windows else ["bash", "install.sh"], check=True)
sys.exit(subprocess.call([batch, *sys.argv[1:]]))
`,
};

/** Files written with the executable bit. */
export const EXECUTABLE: ReadonlySet<string> = new Set(['install.sh', 'run.sh', 'run.py']);
