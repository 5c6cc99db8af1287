/** `iot-ca registration-code`: the CN a verification certificate needs. */
import { GetRegistrationCodeCommand } from '@aws-sdk/client-iot';
import type { GlobalOptions } from '../context.ts';
import { withTarget } from '../flow.ts';
import type { Output } from '../output.ts';

export const registrationCode = (options: GlobalOptions, out: Output): Promise<number> =>
  withTarget(options, out, async (target) => {
    const { registrationCode: code } = await target.iot.send(new GetRegistrationCodeCommand({}));
    out.result({ registrationCode: code }, code ?? '');
    return 0;
  });
