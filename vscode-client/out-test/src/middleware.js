"use strict";
// Language-client middleware: settings answered from our own settings reader, and the server's
// work-done progress routed through ConversionProgress (status bar + command notification).
Object.defineProperty(exports, "__esModule", { value: true });
exports.makeMiddleware = makeMiddleware;
const settings_1 = require("./settings");
function makeMiddleware(progress, settingsFor) {
    return {
        handleWorkDoneProgress(token, params, next) {
            progress.handle(token, params, () => next(token, params));
        },
        workspace: {
            async configuration(params, token, next) {
                const result = await next(params, token);
                if (!Array.isArray(result)) {
                    return result;
                }
                return params.items.map((item, i) => (item.section === settings_1.SECTION ? settingsFor(item.scopeUri) : result[i]));
            },
        },
    };
}
//# sourceMappingURL=middleware.js.map