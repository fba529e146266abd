"use strict";
var __createBinding = (this && this.__createBinding) || (Object.create ? (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    var desc = Object.getOwnPropertyDescriptor(m, k);
    if (!desc || ("get" in desc ? !m.__esModule : desc.writable || desc.configurable)) {
      desc = { enumerable: true, get: function() { return m[k]; } };
    }
    Object.defineProperty(o, k2, desc);
}) : (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    o[k2] = m[k];
}));
var __setModuleDefault = (this && this.__setModuleDefault) || (Object.create ? (function(o, v) {
    Object.defineProperty(o, "default", { enumerable: true, value: v });
}) : function(o, v) {
    o["default"] = v;
});
var __importStar = (this && this.__importStar) || (function () {
    var ownKeys = function(o) {
        ownKeys = Object.getOwnPropertyNames || function (o) {
            var ar = [];
            for (var k in o) if (Object.prototype.hasOwnProperty.call(o, k)) ar[ar.length] = k;
            return ar;
        };
        return ownKeys(o);
    };
    return function (mod) {
        if (mod && mod.__esModule) return mod;
        var result = {};
        if (mod != null) for (var k = ownKeys(mod), i = 0; i < k.length; i++) if (k[i] !== "default") __createBinding(result, mod, k[i]);
        __setModuleDefault(result, mod);
        return result;
    };
})();
Object.defineProperty(exports, "__esModule", { value: true });
const assert = __importStar(require("assert"));
const settings_1 = require("../src/settings");
const helpers_1 = require("./helpers");
const properties = helpers_1.packageJson.contributes.configuration.properties;
const keys = (0, settings_1.settingKeys)(helpers_1.packageJson);
function inspectFrom(values) {
    return (key) => values[key];
}
describe("settings → initializationOptions", () => {
    it("lists every tritonize.* setting from package.json", () => {
        for (const key of ["generators", "n", "seeds", "allowTf32", "timeoutS", "model.topP", "model.idleUnloadS", "interpreter"]) {
            assert.ok(keys.includes(key), key);
        }
        assert.strictEqual(keys.length, Object.keys(properties).length);
    });
    it("sends only what the user set, nested by dots, without client-only keys", () => {
        const out = (0, settings_1.serverSettings)(keys, inspectFrom({
            n: { globalValue: 2 },
            generators: { workspaceValue: ["template"] },
            "model.topP": { globalValue: 0.9 },
            "model.runtime": {},
            interpreter: { globalValue: ["/venv/bin/python"] },
            "trace.server": { globalValue: "verbose" },
        }));
        assert.deepStrictEqual(out, { n: 2, generators: ["template"], model: { topP: 0.9 } });
    });
    it("sends an explicit null (a user resetting atol to the dtype default)", () => {
        assert.deepStrictEqual((0, settings_1.serverSettings)(keys, inspectFrom({ atol: { globalValue: null } })), { atol: null });
    });
    it("lets the most specific scope win", () => {
        assert.strictEqual((0, settings_1.explicitValue)({ globalValue: 1, workspaceValue: 2, workspaceFolderValue: 3 }), 3);
        assert.strictEqual((0, settings_1.explicitValue)({ globalValue: 1, workspaceValue: 2 }), 2);
        assert.strictEqual((0, settings_1.explicitValue)({ globalValue: 1, workspaceLanguageValue: 5 }), 5);
        assert.strictEqual((0, settings_1.explicitValue)({}), undefined);
    });
    it("restarts the server only for an interpreter change", () => {
        assert.ok((0, settings_1.needsRestart)((k) => k === "tritonize.interpreter"));
        assert.ok(!(0, settings_1.needsRestart)((k) => k === "tritonize.n"));
    });
});
describe("settings agree with the server (server/tritonize/settings.py)", function () {
    const python = (0, helpers_1.projectPython)();
    before(function () {
        if (!python) {
            console.log("    (skipped: no project venv; run `make setup` or set TRITONIZE_PYTHON)");
            this.skip();
        }
    });
    it("package.json defaults are the server's defaults", () => {
        const defaults = (0, helpers_1.runPython)(python, "import json; from tritonize.settings import Settings; print(json.dumps(Settings().to_dict()))");
        const snake = (k) => k.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
        const mismatched = [];
        for (const key of keys) {
            if (key === "interpreter" || key === "trace.server") {
                continue;
            }
            const parts = key.split(".").map(snake);
            let expected = defaults;
            for (const p of parts) {
                expected = expected[p];
            }
            if (JSON.stringify(expected) !== JSON.stringify(properties[`tritonize.${key}`].default)) {
                mismatched.push(`${key}: package.json ${JSON.stringify(properties[`tritonize.${key}`].default)}, server ${JSON.stringify(expected)}`);
            }
        }
        assert.deepStrictEqual(mismatched, []);
    });
    it("every setting, set by the user, is accepted by the server without a problem", () => {
        // A non-default value of the declared type for each key, as a user would set it.
        const values = {};
        for (const key of keys) {
            const p = properties[`tritonize.${key}`];
            const type = Array.isArray(p.type) ? p.type[0] : p.type;
            let v;
            if (p.enum) {
                v = p.enum[p.enum.length - 1];
            }
            else if (type === "boolean") {
                v = !p.default;
            }
            else if (type === "integer") {
                v = 7;
            }
            else if (type === "number") {
                v = 0.5;
            }
            else if (type === "string") {
                v = "x";
            }
            else if (type === "array") {
                v = p.items?.enum ? [p.items.enum[0]] : [0];
            }
            values[key] = { globalValue: v };
        }
        const sent = (0, settings_1.serverSettings)(keys, inspectFrom(values));
        const problems = (0, helpers_1.runPython)(python, "import json, sys; from tritonize.settings import Settings; s, problems = Settings.from_dict(json.load(sys.stdin)); print(json.dumps(problems))", sent);
        assert.deepStrictEqual(problems, []);
    });
});
//# sourceMappingURL=settings.test.js.map