import { fileURLToPath } from 'node:url';

/*
 * Where the studio's files are, from this module: src/server/ when the tests run the
 * sources, dist/server/ when built; both are two levels below the package, so the same
 * relative URLs work from either.
 */

/** The repository root (models, examples, fixtures). */
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** The package's static files: the page layout and bodies, the stylesheet. */
export const PUBLIC_DIR = fileURLToPath(new URL('../../public/', import.meta.url));

/** The pages' scripts, compiled by tsconfig.web.json (always from the build: browsers run JavaScript). */
export const BROWSER_JS_DIR = fileURLToPath(new URL('../../dist/browser/web/', import.meta.url));
