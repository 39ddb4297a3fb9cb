#!/usr/bin/env node
// Runs the TypeScript entry point through tsx, so the repository runs as checked out.
import { register } from 'tsx/esm/api';

register();
await import('../control-plane/main.ts');
