import { killStrays } from './strays.mjs';

export default killStrays;
