#!/usr/bin/env node
// The `pea-runtime` executable. V8's compile cache (in the OS temp dir, or
// $NODE_COMPILE_CACHE: the image sets it to the cache its build filled) is switched on
// before anything else loads: it cuts the sidecar's start, which every Pea pod waits for, by
// about a third. Where the cache cannot be written (a read-only root filesystem), Node still
// reads what is there, and otherwise silently runs without it.
import module from 'node:module';

module.enableCompileCache?.();
const { buildProgram } = await import('./cli.js');
await buildProgram().parseAsync(process.argv);
