import { markRun } from './strays.mjs';

export default markRun;
