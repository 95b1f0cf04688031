// Builds the dashboard into dist/ui, next to the compiled server, so `baton server`
// serves it from the installed package with no extra step.
import react from '@vitejs/plugin-react';
import { resolve } from 'node:path';
import { defineConfig } from 'vite';

const here = import.meta.dirname;

export default defineConfig({
  root: here,
  // relative asset URLs: the page works wherever the server is mounted
  base: './',
  plugins: [react()],
  build: {
    outDir: resolve(here, '../dist/ui'),
    emptyOutDir: true,
    // the package ships dist/: keep it small
    sourcemap: false,
  },
  server: {
    // `vite --config ui/vite.config.ts` during UI work: the API comes from a running `baton dev`
    proxy: { '/v1': process.env.BATON_ADDR ?? 'http://127.0.0.1:4646' },
  },
});
