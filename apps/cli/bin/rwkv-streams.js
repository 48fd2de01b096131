#!/usr/bin/env node
import { main } from '../dist/main.js';

// `rwkv-streams run ... | head`: when the reader closes the pipe, stop quietly as Unix tools
// do, instead of dying on an unhandled EPIPE error event.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

process.exitCode = await main(process.argv);
