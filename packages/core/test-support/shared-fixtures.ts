import { existsSync } from 'node:fs';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The rwkv.cpp fixtures live in the sibling `../shared/` folder that CI provides (a
 * user's clone does not have it; tests that need it skip with a message then).
 * RWKV_STREAMS_SHARED_DIR points elsewhere (the GPU machine gets a carried copy).
 */
export const rwkvCppFixtureDir = process.env['RWKV_STREAMS_SHARED_DIR']
  ? join(process.env['RWKV_STREAMS_SHARED_DIR'], 'fixtures', 'rwkv-cpp') + sep
  : fileURLToPath(new URL('../../../../shared/fixtures/rwkv-cpp/', import.meta.url));

/** Whether the shared rwkv.cpp fixtures are present. */
export const haveRwkvCppFixtures = existsSync(rwkvCppFixtureDir);

/** The prompt of rwkv.cpp's logit tests: the bytes of `"in`. */
export const RWKV_CPP_PROMPT = [34, 105, 110] as const;
