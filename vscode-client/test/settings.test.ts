import * as assert from "assert";
import { InspectResult, explicitValue, needsRestart, serverSettings, settingKeys } from "../src/settings";
import { packageJson, projectPython, runPython } from "./helpers";

const properties = packageJson.contributes.configuration.properties as Record<string, { default: unknown }>;
const keys = settingKeys(packageJson);

function inspectFrom(values: Record<string, InspectResult>) {
  return (key: string) => values[key];
}

describe("settings → initializationOptions", () => {
  it("lists every tritonize.* setting from package.json", () => {
    for (const key of ["generators", "n", "seeds", "allowTf32", "timeoutS", "model.topP", "model.idleUnloadS", "interpreter"]) {
      assert.ok(keys.includes(key), key);
    }
    assert.strictEqual(keys.length, Object.keys(properties).length);
  });

  it("sends only what the user set, nested by dots, without client-only keys", () => {
    const out = serverSettings(
      keys,
      inspectFrom({
        n: { globalValue: 2 },
        generators: { workspaceValue: ["template"] },
        "model.topP": { globalValue: 0.9 },
        "model.runtime": {},
        interpreter: { globalValue: ["/venv/bin/python"] },
        "trace.server": { globalValue: "verbose" },
      }),
    );
    assert.deepStrictEqual(out, { n: 2, generators: ["template"], model: { topP: 0.9 } });
  });

  it("sends an explicit null (a user resetting atol to the dtype default)", () => {
    assert.deepStrictEqual(serverSettings(keys, inspectFrom({ atol: { globalValue: null } })), { atol: null });
  });

  it("lets the most specific scope win", () => {
    assert.strictEqual(explicitValue({ globalValue: 1, workspaceValue: 2, workspaceFolderValue: 3 }), 3);
    assert.strictEqual(explicitValue({ globalValue: 1, workspaceValue: 2 }), 2);
    assert.strictEqual(explicitValue({ globalValue: 1, workspaceLanguageValue: 5 }), 5);
    assert.strictEqual(explicitValue({}), undefined);
  });

  it("restarts the server only for an interpreter change", () => {
    assert.ok(needsRestart((k) => k === "tritonize.interpreter"));
    assert.ok(!needsRestart((k) => k === "tritonize.n"));
  });
});

describe("settings agree with the server (server/tritonize/settings.py)", function () {
  const python = projectPython();

  before(function () {
    if (!python) {
      console.log("    (skipped: no project venv; run `make setup` or set TRITONIZE_PYTHON)");
      this.skip();
    }
  });

  it("package.json defaults are the server's defaults", () => {
    const defaults = runPython(
      python!,
      "import json; from tritonize.settings import Settings; print(json.dumps(Settings().to_dict()))",
    ) as Record<string, unknown>;
    const snake = (k: string) => k.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
    const mismatched: string[] = [];
    for (const key of keys) {
      if (key === "interpreter" || key === "trace.server") {
        continue;
      }
      const parts = key.split(".").map(snake);
      let expected: unknown = defaults;
      for (const p of parts) {
        expected = (expected as Record<string, unknown>)[p];
      }
      if (JSON.stringify(expected) !== JSON.stringify(properties[`tritonize.${key}`].default)) {
        mismatched.push(`${key}: package.json ${JSON.stringify(properties[`tritonize.${key}`].default)}, server ${JSON.stringify(expected)}`);
      }
    }
    assert.deepStrictEqual(mismatched, []);
  });

  it("every setting, set by the user, is accepted by the server without a problem", () => {
    // A non-default value of the declared type for each key, as a user would set it.
    const values: Record<string, InspectResult> = {};
    for (const key of keys) {
      const p = properties[`tritonize.${key}`] as { type: string | string[]; enum?: unknown[]; items?: { enum?: unknown[] }; default: unknown };
      const type = Array.isArray(p.type) ? p.type[0] : p.type;
      let v: unknown;
      if (p.enum) {
        v = p.enum[p.enum.length - 1];
      } else if (type === "boolean") {
        v = !p.default;
      } else if (type === "integer") {
        v = 7;
      } else if (type === "number") {
        v = 0.5;
      } else if (type === "string") {
        v = "x";
      } else if (type === "array") {
        v = p.items?.enum ? [p.items.enum[0]] : [0];
      }
      values[key] = { globalValue: v };
    }
    const sent = serverSettings(keys, inspectFrom(values));
    const problems = runPython(
      python!,
      "import json, sys; from tritonize.settings import Settings; s, problems = Settings.from_dict(json.load(sys.stdin)); print(json.dumps(problems))",
      sent,
    );
    assert.deepStrictEqual(problems, []);
  });
});
