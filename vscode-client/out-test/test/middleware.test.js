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
const middleware_1 = require("../src/middleware");
const progress_1 = require("../src/progress");
describe("language-client middleware", () => {
    it("answers workspace/configuration for the tritonize section with our settings", async () => {
        const scopes = [];
        const mw = (0, middleware_1.makeMiddleware)(new progress_1.ConversionProgress({ show() { }, hide() { } }), (scope) => {
            scopes.push(scope);
            return { n: 2 };
        });
        const params = { items: [{ section: "tritonize", scopeUri: "file:///w/m.py" }, { section: "python" }] };
        const next = async () => [{ n: 4, interpreter: ["/x"] }, { analysis: {} }];
        const result = await mw.workspace.configuration(params, {}, next);
        assert.deepStrictEqual(result, [{ n: 2 }, { analysis: {} }]);
        assert.deepStrictEqual(scopes, ["file:///w/m.py"]);
    });
    it("routes work-done progress to the status bar and hands `end` to the client", () => {
        const shown = [];
        const progress = new progress_1.ConversionProgress({ show: (t) => shown.push(t), hide: () => shown.push("hidden") });
        const mw = (0, middleware_1.makeMiddleware)(progress, () => ({}));
        const forwarded = [];
        const next = (token, value) => forwarded.push([token, value]);
        mw.handleWorkDoneProgress("t", { kind: "begin", title: "Tritonize X" }, next);
        mw.handleWorkDoneProgress("t", { kind: "end" }, next);
        assert.deepStrictEqual(shown, ["$(sync~spin) Tritonize X", "hidden"]);
        assert.deepStrictEqual(forwarded, [["t", { kind: "end" }]]);
    });
});
//# sourceMappingURL=middleware.test.js.map