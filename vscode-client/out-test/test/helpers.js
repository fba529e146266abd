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
exports.packageJson = exports.ROOT = void 0;
exports.projectPython = projectPython;
exports.runPython = runPython;
const fs = __importStar(require("fs"));
const path = __importStar(require("path"));
const child_process_1 = require("child_process");
exports.ROOT = path.resolve(__dirname, "..", "..");
exports.packageJson = JSON.parse(fs.readFileSync(path.join(exports.ROOT, "package.json"), "utf8"));
/** The project's Python (the venv `make setup` creates), for checks against the real server code. */
function projectPython() {
    const candidates = [process.env.TRITONIZE_PYTHON, path.join(exports.ROOT, "..", ".venv", "bin", "python")];
    return candidates.find((p) => p && fs.existsSync(p));
}
/** Run a Python snippet with the project's interpreter; parses its stdout as JSON. */
function runPython(python, code, input) {
    const proc = (0, child_process_1.spawnSync)(python, ["-c", code], { input: input === undefined ? "" : JSON.stringify(input), encoding: "utf8", timeout: 60000 });
    if (proc.status !== 0) {
        throw new Error(`python failed (${proc.status}): ${proc.stderr}`);
    }
    return JSON.parse(proc.stdout);
}
//# sourceMappingURL=helpers.js.map