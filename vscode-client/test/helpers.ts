import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";

// compiled to out/unit/test/: three levels up is vscode-client/
export const ROOT = path.resolve(__dirname, "..", "..", "..");
export const packageJson = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));

/** The project's Python (the venv `make setup` creates), for checks against the real server code. */
export function projectPython(): string | undefined {
  const candidates = [process.env.TRITONIZE_PYTHON, path.join(ROOT, "..", ".venv", "bin", "python")];
  return candidates.find((p) => p && fs.existsSync(p));
}

/** Run a Python snippet with the project's interpreter; parses its stdout as JSON. */
export function runPython(python: string, code: string, input?: unknown): unknown {
  const proc = spawnSync(python, ["-c", code], { input: input === undefined ? "" : JSON.stringify(input), encoding: "utf8", timeout: 60000 });
  if (proc.status !== 0) {
    throw new Error(`python failed (${proc.status}): ${proc.stderr}`);
  }
  return JSON.parse(proc.stdout);
}
