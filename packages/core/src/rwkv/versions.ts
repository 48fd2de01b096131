import { UnknownVersionError } from '../errors.js';
import type { RwkvVersion } from './config.js';
import { rwkv4 } from './v4.js';
import { rwkv5 } from './v5.js';
import { rwkv6 } from './v6.js';
import { rwkv7 } from './v7.js';
import type { RwkvVersionDef } from './version.js';

const byVersion: Record<RwkvVersion, RwkvVersionDef> = { 4: rwkv4, 5: rwkv5, 6: rwkv6, 7: rwkv7 };

/** The block definition of an RWKV version. */
export function versionDef(version: RwkvVersion): RwkvVersionDef {
  const def = byVersion[version];
  if (!def)
    throw new UnknownVersionError(`RWKV version ${String(version)} is not implemented (4, 5, 6, 7 are)`, {
      field: 'version',
    });
  return def;
}
