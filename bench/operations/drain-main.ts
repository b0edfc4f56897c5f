/**
 * Runs the drain benchmark alone and prints its result as JSON:
 *   npm run build && node dist/bench/operations/drain-main.js [containers]
 */
import { benchDrain } from "./drain.js";

const containers = process.argv[2] === undefined ? undefined : Number(process.argv[2]);
const result = await benchDrain(containers === undefined ? {} : { containers });
console.log(JSON.stringify(result, null, 2));
