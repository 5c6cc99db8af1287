/** `iot-ca list`: the CAs with status, mode, template and expiry; with --all, every dropped file too. */
import pMap from 'p-map';
import { fileViews, listCaIds, viewOf } from '../cas.ts';
import type { GlobalOptions } from '../context.ts';
import { withTarget } from '../flow.ts';
import type { Output } from '../output.ts';
import { casText, filesText } from '../render.ts';

export const list = (options: { all?: boolean }, global: GlobalOptions, out: Output): Promise<number> =>
  withTarget(global, out, async (target) => {
    const ids = await listCaIds(target);
    const views = await pMap(ids, (id) => viewOf(target, id), { concurrency: 4 });
    const text = casText(views);
    if (!options.all) {
      out.result(views, text);
      return 0;
    }
    // --all: every file dropped under the incoming prefix, with its outcome, failed ones included.
    const files = await fileViews(target);
    out.result({ cas: views, files }, `${text}\n\n${filesText(files, target.incomingPrefix)}`);
    return 0;
  });
