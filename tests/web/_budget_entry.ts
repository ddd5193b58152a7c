// What the size budget of issue #13 weighs: Client + wsDial from the web
// entry, and nothing else (bundle_test.ts bundles it esbuild-minified).
export { Client, wsDial } from "../../web.ts";
