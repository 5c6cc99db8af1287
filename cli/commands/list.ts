/** `iot-ca list`: the CAs with status, mode, template and expiry; with --all, every dropped file too. */
import pMap from 'p-map';
import { fileViews, listCaIds, viewOf } from '../cas.ts';
import type { GlobalOptions } from '../context.ts';
import { withTarget } from '../flow.ts';
import { table, type Output } from '../output.ts';

export const list = (options: { all?: boolean }, global: GlobalOptions, out: Output): Promise<number> =>
  withTarget(global, out, async (target) => {
    const ids = await listCaIds(target);
    const views = await pMap(ids, (id) => viewOf(target, id), { concurrency: 4 });
    const rows = [
      ['CERTIFICATE ID', 'STATUS', 'MODE', 'TEMPLATE', 'EXPIRES', 'SOURCE'],
      ...views.map((v) => [v.certificateId.slice(0, 16), v.status, v.certificateMode, v.templateName ?? '-', v.daysToExpiry === null ? '-' : `${v.daysToExpiry}d`, v.source ?? '-']),
    ];
    const casText = views.length === 0 ? 'no CA certificates registered' : table(rows);
    if (!options.all) {
      out.result(views, casText);
      return 0;
    }
    // --all: every file dropped under the incoming prefix, with its outcome, failed ones included.
    const files = await fileViews(target);
    const fileRows = [
      ['FILE', 'OUTCOME', 'CERTIFICATE ID / ERROR'],
      ...files.map((f) => [f.key, f.outcome, f.outcome === 'FAILED' ? (f.error?.name ?? '') : (f.certificateId ?? '-').slice(0, 16)]),
    ];
    out.result({ cas: views, files }, `${casText}\n\n${files.length === 0 ? `no files under ${target.incomingPrefix}` : table(fileRows)}`);
    return 0;
  });
