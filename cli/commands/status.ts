/** `iot-ca status`: one CA in detail, by its id or a unique prefix of it. */
import { resolveCaId, viewOf } from '../cas.ts';
import type { GlobalOptions } from '../context.ts';
import { withTarget } from '../flow.ts';
import type { Output } from '../output.ts';
import { statusText } from '../render.ts';

export const status = (certificateId: string, global: GlobalOptions, out: Output): Promise<number> =>
  withTarget(global, out, async (target) => {
    const id = await resolveCaId(target, certificateId);
    const view = await viewOf(target, id);
    out.result(view, statusText(view));
    return 0;
  });
