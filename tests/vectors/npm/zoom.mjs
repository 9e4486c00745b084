// Zoom's SDK verifies only inside its receivers. The Lambda receiver takes a request as plain
// data and answers `endpoint.url_validation` itself, so it serves both as verifier and as the
// source of the handshake's expected answer.
import { AwsLambdaReceiver } from '@zoom/rivet/meetings';

/** The receiver's reply (`statusCode`, `body`) to one delivery. */
export async function zoomReceive(secret, headers, body) {
  const receiver = new AwsLambdaReceiver({ webhooksSecretToken: secret });
  receiver.init({ eventEmitter: { emit: async () => {} } });
  // The receiver logs every event with console.debug, on stdout, where the vectors go.
  const debug = console.debug;
  console.debug = () => {};
  try {
    return await receiver.start()({ body, headers, isBase64Encoded: false }, {});
  } finally {
    console.debug = debug;
  }
}
